import type { Transport } from "@connectrpc/connect";

/** Deadlines applied to calls that do not pass their own `timeoutMs`. */
export interface DefaultTimeouts {
  /** Unary calls (including a whole `Complete`); default 120 s. */
  unaryMs?: number;
  /** Server streams (`StreamComplete`, `WatchJob`); undefined: no deadline, a stream lasts as long as it generates. */
  streamMs?: number;
}

/**
 * Wraps a transport so that unary and streaming calls get different default deadlines: a transport's
 * own `defaultTimeoutMs` is one value for both, which either cuts long generations or lets a hung
 * unary call wait forever.
 */
export function withDefaultTimeouts(transport: Transport, { unaryMs, streamMs }: DefaultTimeouts): Transport {
  return {
    unary: (method, signal, timeoutMs, header, input, contextValues) =>
      transport.unary(method, signal, timeoutMs ?? unaryMs, header, input, contextValues),
    stream: (method, signal, timeoutMs, header, input, contextValues) =>
      transport.stream(method, signal, timeoutMs ?? streamMs, header, input, contextValues),
  };
}
