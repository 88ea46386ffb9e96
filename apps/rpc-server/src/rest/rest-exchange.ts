import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Context } from "@noa/observability";
import { CallController, type CallSignal } from "@noa/providers";
import { correlationIdOf } from "../request-context.js";

/** What the request's log line says beyond method, route, status and duration. */
export type RestLogFields = {
  model?: string;
  stream?: boolean;
  /** `<provider>/<model>` that served. */
  served?: string;
  provider?: string;
  attempts?: number;
  promptTokens?: number;
  completionTokens?: number;
  /** How the cache handled a completion: the tier of a hit (`memory`, `redis`, `database`, `coalesced`), or `miss`, `refresh`, `bypass`. */
  cache?: string;
  /** The code of an error sent after the response began (a cut stream). */
  error?: string;
};

/** One REST request in progress: its correlation id, its cancellation, its response and its log fields. */
export interface RestExchange {
  readonly req: IncomingMessage | Http2ServerRequest;
  readonly res: ServerResponse | Http2ServerResponse;
  readonly correlationId: string;
  /** The exchange's server span: the calls it makes put their spans under it. */
  readonly traceContext: Context;
  /**
   * Aborts when the client goes away before the response is complete (reason: CANCELED) or when the
   * server shuts down (the shutdown's reason); the completion service passes it down to the provider.
   */
  readonly signal: CallSignal;
  /** True once the client closed the connection before the response was complete. */
  clientGone(): boolean;
  readonly log: RestLogFields;
  /** The status sent (0 before headers). */
  status(): number;
  sendJson(status: number, body: unknown, headers?: Record<string, string>): void;
  /** Stops listening to the connection and the shutdown signal; call once the response is over. */
  dispose(): void;
}

/**
 * Starts a REST exchange: takes the caller's correlation id (or makes one) and returns it as
 * `x-correlation-id` and as `x-request-id` (which OpenAI SDKs surface as the request id), and ties the
 * exchange's signal to the connection (`close` before the response ended) and to server shutdown.
 */
export function createRestExchange(
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
  shutdown: {
    signal: AbortSignal;
    /** The controllers of the exchanges in flight, which the handler aborts when `signal` does. */
    inFlight: Set<CallController>;
  },
  traceContext: Context,
): RestExchange {
  // Already on the response as x-correlation-id (the server sets it on every answer).
  const correlationId = correlationIdOf(req);
  res.setHeader("x-request-id", correlationId);
  // Not an AbortController: on Node 20 each AbortSignal costs several µs more (CallController).
  const controller = new CallController();
  let gone = false;
  const onClose = () => {
    if (res.writableEnded) return;
    gone = true;
    controller.abort(new ConnectError("the client closed the connection", Code.Canceled));
  };
  res.once("close", onClose);
  if (shutdown.signal.aborted) controller.abort(shutdown.signal.reason);
  else shutdown.inFlight.add(controller);

  return {
    req,
    res,
    correlationId,
    traceContext,
    signal: controller.signal,
    clientGone: () => gone,
    log: {},
    status: () => (res.headersSent ? res.statusCode : 0),
    sendJson(status, body, headers) {
      if (gone) return;
      const text = JSON.stringify(body);
      res.writeHead(status, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(text),
        ...headers,
      });
      res.end(text);
    },
    dispose() {
      res.off("close", onClose);
      shutdown.inFlight.delete(controller);
    },
  };
}
