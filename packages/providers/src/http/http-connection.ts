import type { Socket } from "node:net";
import { type ResponseHead, ResponseParser, type ResponseParserHandler } from "./response-parser.js";

/** What one request on a connection hears back, in order: the head, the body's bytes, the end or a failure. */
export interface Exchange {
  onHead(head: ResponseHead): void;
  onBody(chunk: Buffer): void;
  onEnd(): void;
  /**
   * The connection failed or closed before the response was whole: `error` is what the socket or parser
   * said, undefined for a connection the server just closed.
   */
  onError(error: Error | undefined): void;
}

/** What a connection tells its pool. */
export interface ConnectionOwner {
  /** The response is whole and the connection may carry another request. */
  idle(connection: HttpConnection): void;
  /** The socket is gone (closed, failed or destroyed). */
  closed(connection: HttpConnection): void;
}

/** A request body as the connection writes it: text, bytes, or a stream of chunks. */
export type RequestBody = string | Uint8Array | ReadableStream<Uint8Array> | undefined;

/** One request as it goes on the wire. */
export interface HttpRequest {
  method: string;
  /** The request line and headers, blank line included. */
  head: string;
  body: RequestBody;
  /** A stream body is framed with chunked transfer coding (its length is unknown), else sent as it is. */
  chunked: boolean;
  /** False when the request asked for `connection: close`: the connection goes after the answer. */
  keepAlive: boolean;
}

/** A head with bytes of 0x80–0xff (validated values may hold them) must go out as latin1, apart from a UTF-8 body. */
const LATIN1 = /[\u0080-\u00ff]/;

/**
 * One HTTP/1.1 keep-alive connection carrying one request at a time: writes the request (head and body in
 * one write when it can) and reports the response to that request's `Exchange` as it is parsed. It goes
 * back to its owner when a response ends with the connection reusable, and is destroyed otherwise.
 */
export class HttpConnection implements ResponseParserHandler {
  readonly #socket: Socket;
  readonly #owner: ConnectionOwner;
  readonly #parser = new ResponseParser(this);
  #exchange: Exchange | undefined;
  /** Set during `execute` when the response ended: whether the connection may be reused. */
  #ended: boolean | undefined;
  /** False while a streamed request body is still being written. */
  #requestSent = true;
  #requestKeepAlive = true;
  #socketError: Error | undefined;
  #closed = false;
  /** When it last went idle (`Date.now()`), for the pool's keep-alive limit. */
  idleSince = 0;
  /**
   * How long the server lets it idle, less a second of margin, from its last `keep-alive: timeout` hint
   * (as node:http's agent does); unlimited without one.
   */
  maxIdleMs = Number.POSITIVE_INFINITY;

  constructor(socket: Socket, owner: ConnectionOwner) {
    this.#socket = socket;
    this.#owner = owner;
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("end", () => this.#onEnd());
    socket.on("error", (error) => {
      this.#socketError ??= error;
    });
    socket.on("close", () => this.#onClose());
  }

  /** Sends `request`; what comes back goes to `exchange`. */
  send(exchange: Exchange, request: HttpRequest): void {
    const { head, body } = request;
    this.#exchange = exchange;
    this.#requestKeepAlive = request.keepAlive;
    this.#requestSent = true;
    this.#parser.begin(request.method);
    const socket = this.#socket;
    if (socket.isPaused()) socket.resume();
    const ascii = !LATIN1.test(head);
    if (typeof body === "string") {
      if (ascii) socket.write(head + body);
      else {
        socket.cork();
        socket.write(head, "latin1");
        socket.write(body);
        socket.uncork();
      }
    } else if (body === undefined) socket.write(head, "latin1");
    else if (body instanceof Uint8Array) {
      socket.cork();
      socket.write(head, "latin1");
      socket.write(body);
      socket.uncork();
    } else {
      socket.write(head, "latin1");
      this.#requestSent = false;
      void this.#writeStream(body, request.chunked, exchange);
    }
  }

  /** Stops reading until `resume`, so that the sender's socket buffer fills (backpressure). */
  pause(exchange: Exchange): void {
    if (this.#exchange === exchange) this.#socket.pause();
  }

  resume(exchange: Exchange): void {
    if (this.#exchange === exchange) this.#socket.resume();
  }

  /** Ends `exchange` here if it is still this connection's: the socket is destroyed and nothing more reported. */
  abandon(exchange: Exchange): void {
    if (this.#exchange !== exchange) return;
    this.#exchange = undefined;
    this.#parser.stop();
    this.#socket.destroy();
  }

  /** Destroys the socket whatever it is doing (the pool is closing). */
  destroy(): void {
    this.#socket.destroy();
  }

  /** Whether the socket keeps the process alive: not while idle in the pool, as node:http's agent does. */
  setRef(ref: boolean): void {
    if (ref) this.#socket.ref();
    else this.#socket.unref();
  }

  get closed(): boolean {
    return this.#closed;
  }

  onHead(head: ResponseHead): void {
    if (head.keepAliveTimeoutS !== undefined) this.maxIdleMs = head.keepAliveTimeoutS * 1_000 - 1_000;
    this.#exchange?.onHead(head);
  }

  onBody(chunk: Buffer): void {
    this.#exchange?.onBody(chunk);
  }

  onComplete(keepAlive: boolean): void {
    const exchange = this.#exchange;
    this.#exchange = undefined;
    this.#ended = keepAlive && this.#requestKeepAlive && this.#requestSent;
    exchange?.onEnd();
  }

  #onData(chunk: Buffer): void {
    if (!this.#parser.active) {
      // Bytes while idle: nothing was asked, so the connection cannot be trusted with a request.
      this.#socket.destroy();
      return;
    }
    try {
      this.#parser.execute(chunk);
    } catch (error) {
      this.#fail(error as Error);
      return;
    }
    const ended = this.#ended;
    if (ended === undefined) return;
    this.#ended = undefined;
    // Released only now, outside the parser: the owner may hand it the next request at once.
    // A server that allows less than the second of margin gets no second request on this connection.
    if (ended && !this.#closed && this.maxIdleMs > 0) {
      // Paused by the last reader's backpressure, it must still hear the server close it while idle.
      if (this.#socket.isPaused()) this.#socket.resume();
      this.idleSince = Date.now();
      this.#owner.idle(this);
    } else this.#socket.destroy();
  }

  #onEnd(): void {
    try {
      // A body delimited by the close ends here; anything else in progress was cut short.
      this.#parser.finish();
    } catch (error) {
      this.#fail(error as Error);
    }
  }

  #onClose(): void {
    this.#closed = true;
    this.#parser.stop();
    const exchange = this.#exchange;
    this.#exchange = undefined;
    exchange?.onError(this.#socketError);
    this.#owner.closed(this);
  }

  /** A protocol or body failure: the exchange learns it, the socket goes. */
  #fail(error: Error): void {
    const exchange = this.#exchange;
    this.#exchange = undefined;
    this.#parser.stop();
    this.#socket.destroy();
    exchange?.onError(error);
  }

  /** Writes a stream body, with chunked transfer coding as node:http does for a body of unknown length. */
  async #writeStream(body: ReadableStream<Uint8Array>, chunked: boolean, exchange: Exchange): Promise<void> {
    const socket = this.#socket;
    const reader = body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (socket.destroyed || this.#exchange !== exchange) {
          await reader.cancel();
          return;
        }
        if (done) break;
        if (value.byteLength === 0) continue;
        let flowing: boolean;
        if (chunked) {
          socket.cork();
          socket.write(`${value.byteLength.toString(16)}\r\n`, "latin1");
          socket.write(value);
          flowing = socket.write("\r\n", "latin1");
          socket.uncork();
        } else flowing = socket.write(value);
        if (!flowing) await drained(socket);
      }
      if (chunked) socket.write("0\r\n\r\n", "latin1");
      this.#requestSent = true;
    } catch (error) {
      if (this.#exchange === exchange) this.#fail(error instanceof Error ? error : new Error(String(error)));
    }
  }
}

function drained(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off("drain", done);
      socket.off("close", done);
      resolve();
    };
    socket.on("drain", done);
    socket.on("close", done);
  });
}
