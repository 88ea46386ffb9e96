import type { IncomingMessage } from "node:http";

/** How long, and how much, to keep reading a refused body before closing the connection. */
export interface DiscardLimits {
  maxMs: number;
  maxBytes: number;
}

/**
 * After an HTTP/1.1 request was answered before its body was read (413, 408), reads what is still
 * coming and throws it away, then closes the connection once `maxMs` or `maxBytes` is reached (or keeps
 * it for the next request if the body ended first). Closing at once would leave unread bytes in the
 * kernel, which then resets the connection, and a client still sending would lose the answer with it
 * (the staged close of RFC 9112 §9.6).
 */
export function discardRequestBody(req: IncomingMessage, { maxMs, maxBytes }: DiscardLimits): void {
  const socket = req.socket;
  let discarded = 0;
  const close = () => socket.destroy();
  const timer = setTimeout(close, maxMs);
  const onData = (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > maxBytes) close();
  };
  const stop = () => {
    clearTimeout(timer);
    req.off("data", onData);
  };
  req.on("data", onData);
  req.once("end", stop);
  socket.once("close", stop);
  req.resume();
}
