import zlib from "node:zlib";
import type { CallSignal } from "../call-signal.js";
import type { ConnectionPool, PoolWaiter } from "./connection-pool.js";
import type { Exchange, HttpConnection, HttpRequest } from "./http-connection.js";
import type { ResponseHead } from "./response-parser.js";

/** Body bytes held for a reader not there yet; past this the connection stops reading (backpressure). */
const HIGH_WATER_BYTES = 64 * 1024;

/**
 * One request and, once its head is in, its `Response`: created when the request is sent, it resolves
 * `send()`'s promise with itself at the head, then holds or hands on the body. `json()`/`text()` take the
 * bytes directly; `body` is a web stream pulled only while its reader asks (backpressure reaches the
 * socket). A failure before the head rejects like fetch (a TypeError with the cause); after it, the body
 * errors. Aborting `signal` destroys the connection unless the body was already read to its end.
 */
export class HttpResponse implements Exchange, PoolWaiter {
  status = 0;
  statusText = "";
  ok = false;
  readonly type = "basic";
  readonly redirected = false;
  readonly url: string;
  readonly #request: HttpRequest;
  readonly #signal: CallSignal | undefined;
  readonly #pool: ConnectionPool;
  #connection: HttpConnection | undefined;
  #resolve: ((response: Response) => void) | undefined;
  #reject: ((error: unknown) => void) | undefined;
  #rawHeaders: string[] = [];
  #headers: Headers | undefined;
  #stream: ReadableStream<Uint8Array> | null | undefined;
  #decoder: zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | undefined;
  #used = false;
  /** The connection delivered the whole (raw) body. */
  #received = false;
  /** The decoded body ended with nobody reading yet. */
  #ended = false;
  /** The reader has seen the end, or the body failed: nothing changes any more. */
  #settled = false;
  #error: unknown;
  #held: Buffer[] = [];
  #heldBytes = 0;
  #onData: ((chunk: Buffer) => void) | undefined;
  #onEnd: (() => void) | undefined;
  #onError: ((error: unknown) => void) | undefined;

  constructor(url: string, request: HttpRequest, signal: CallSignal | undefined, pool: ConnectionPool) {
    this.url = url;
    this.#request = request;
    this.#signal = signal;
    this.#pool = pool;
  }

  /** Sends the request on a pooled connection (or queues it); resolves at the response head. */
  send(): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      // The listener is this object (`handleEvent`): no closure per request.
      this.#signal?.addEventListener("abort", this, { once: true });
      const connection = this.#pool.take();
      if (connection) this.assign(connection);
      else this.#pool.wait(this);
    });
  }

  /** Sends the request on `connection` (from `send`, or from the pool when one came free). */
  assign(connection: HttpConnection): void {
    this.#connection = connection;
    connection.send(this, this.#request);
  }

  /** Fails the request (the pool was destroyed) or, once the head is in, the body (abort, cancel, socket). */
  fail(error: unknown): void {
    if (this.#resolve) {
      this.#rejectBeforeHead(new TypeError("fetch failed", { cause: error }));
      return;
    }
    if (this.#settled) return;
    this.#settled = true;
    this.#error = error;
    this.#onData = undefined;
    this.#onEnd = undefined;
    this.#detach();
    if (!this.#received) this.#connection?.abandon(this);
    this.#decoder?.destroy();
    this.#held = [];
    this.#onError?.(error);
  }

  /** The signal's abort. */
  handleEvent(): void {
    const reason = abortReason(this.#signal as CallSignal);
    if (this.#resolve) {
      this.#pool.cancel(this);
      this.#connection?.abandon(this);
      this.#rejectBeforeHead(reason);
    } else this.fail(reason);
  }

  onHead(head: ResponseHead): void {
    this.status = head.status;
    this.statusText = head.statusText;
    this.ok = head.status >= 200 && head.status < 300;
    this.#rawHeaders = head.rawHeaders;
    if (!head.hasBody) this.#stream = null;
    else {
      // Like fetch, undo a content-encoding the server applied (none is asked for: no accept-encoding is sent).
      this.#decoder = createDecoder(head.contentEncoding);
      if (this.#decoder) {
        this.#decoder.on("data", (chunk: Buffer) => this.#hold(chunk));
        this.#decoder.on("end", () => this.#end());
        this.#decoder.on("error", (error) => this.fail(error));
      }
    }
    const resolve = this.#resolve as (response: Response) => void;
    this.#resolve = undefined;
    this.#reject = undefined;
    resolve(this as unknown as Response);
  }

  onBody(chunk: Buffer): void {
    if (this.#decoder) this.#decoder.write(chunk);
    else this.#hold(chunk);
  }

  onEnd(): void {
    this.#received = true;
    if (this.#decoder) this.#decoder.end();
    else this.#end();
  }

  onError(error: Error | undefined): void {
    if (this.#resolve) {
      this.#rejectBeforeHead(new TypeError("fetch failed", { cause: error ?? hangUp() }));
    } else this.fail(error ?? prematureClose());
  }

  /** Built on first use: most callers read only the status and the body. */
  get headers(): Headers {
    if (!this.#headers) {
      const headers = new Headers();
      const raw = this.#rawHeaders;
      for (let index = 0; index < raw.length; index += 2)
        headers.append(raw[index] as string, raw[index + 1] as string);
      this.#headers = headers;
    }
    return this.#headers;
  }

  get bodyUsed(): boolean {
    return this.#used;
  }

  get body(): ReadableStream<Uint8Array> | null {
    if (this.#stream === undefined) this.#stream = this.#toWebStream();
    return this.#stream;
  }

  async text(): Promise<string> {
    const bytes = await this.#readAll();
    return bytes.toString("utf8");
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await this.#readAll();
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }

  async bytes(): Promise<Uint8Array> {
    return new Uint8Array(await this.arrayBuffer());
  }

  clone(): never {
    throw new TypeError("clone() is not supported by this fetch");
  }

  #rejectBeforeHead(error: unknown): void {
    const reject = this.#reject;
    this.#resolve = undefined;
    this.#reject = undefined;
    this.#settled = true;
    this.#detach();
    reject?.(error);
  }

  #detach(): void {
    this.#signal?.removeEventListener("abort", this);
  }

  /** A body chunk for the reader, or held until one comes. */
  #hold(chunk: Buffer): void {
    if (this.#onData) {
      this.#onData(chunk);
      return;
    }
    this.#held.push(chunk);
    this.#heldBytes += chunk.length;
    if (this.#heldBytes >= HIGH_WATER_BYTES) this.#pause();
  }

  /** The (decoded) body is whole. */
  #end(): void {
    if (this.#settled) return;
    if (!this.#onEnd) {
      this.#ended = true;
      return;
    }
    this.#settled = true;
    this.#detach();
    this.#onEnd();
  }

  #pause(): void {
    if (!this.#received) this.#connection?.pause(this);
  }

  #resume(): void {
    if (!this.#received) this.#connection?.resume(this);
  }

  #take(): void {
    if (this.#used) throw new TypeError("Body is unusable: Body has already been read");
    this.#used = true;
  }

  /** Hands the held chunks to the reader, then the end if it came. */
  #flushHeld(onData: (chunk: Buffer) => void): void {
    const held = this.#held;
    this.#held = [];
    this.#heldBytes = 0;
    for (const chunk of held) onData(chunk);
  }

  /** The whole body, without going through a web stream. */
  #readAll(): Promise<Buffer> {
    if (this.#stream?.locked) throw new TypeError("Body is unusable: Body has already been read");
    this.#take();
    if (this.#stream === null) {
      this.#settled = true;
      this.#detach();
      return Promise.resolve(Buffer.alloc(0));
    }
    if (this.#settled) {
      return this.#error === undefined ? Promise.resolve(Buffer.alloc(0)) : Promise.reject(this.#error);
    }
    if (this.#ended) {
      const held = this.#held;
      this.#held = [];
      this.#settled = true;
      this.#detach();
      return Promise.resolve(held.length === 1 ? (held[0] as Buffer) : Buffer.concat(held));
    }
    return new Promise((resolve, reject) => {
      const chunks = this.#held;
      this.#held = [];
      this.#heldBytes = 0;
      this.#onData = (chunk) => chunks.push(chunk);
      this.#onEnd = () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
      this.#onError = reject;
      this.#resume();
    });
  }

  /** Pulls from the connection only while the reader asks, so backpressure reaches the socket. */
  #toWebStream(): ReadableStream<Uint8Array> {
    let started = false;
    return new ReadableStream<Uint8Array>(
      {
        pull: (controller) => {
          if (!started) {
            started = true;
            if (this.#used)
              return controller.error(new TypeError("Body is unusable: Body has already been read"));
            this.#used = true;
            if (this.#settled && this.#error !== undefined) return controller.error(this.#error);
            const onData = (chunk: Buffer) => {
              controller.enqueue(chunk);
              if ((controller.desiredSize ?? 0) <= 0) this.#pause();
            };
            this.#flushHeld(onData);
            if (this.#ended) {
              this.#settled = true;
              this.#detach();
              return controller.close();
            }
            this.#onData = onData;
            this.#onEnd = () => controller.close();
            this.#onError = (error) => controller.error(error);
          }
          this.#resume();
        },
        cancel: (reason) => {
          this.#used = true;
          this.#onError = undefined;
          this.fail(reason ?? new DOMException("The body was cancelled", "AbortError"));
        },
      },
      { highWaterMark: 0 },
    );
  }
}

/** What `signal` aborted with, as fetch rejects: its reason, or an `AbortError`. */
export function abortReason(signal: CallSignal): unknown {
  return signal.reason ?? new DOMException("This operation was aborted", "AbortError");
}

/** A decompressor for the body's content-encoding, or undefined for identity and unknown codings. */
function createDecoder(
  encoding: string | undefined,
): zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | undefined {
  switch (encoding) {
    case "gzip":
    case "x-gzip":
      // As lenient as undici with a body whose last block was not flushed.
      return zlib.createGunzip({
        flush: zlib.constants.Z_SYNC_FLUSH,
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
      });
    case "deflate":
      return zlib.createInflate({
        flush: zlib.constants.Z_SYNC_FLUSH,
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
      });
    case "br":
      return zlib.createBrotliDecompress({
        flush: zlib.constants.BROTLI_OPERATION_FLUSH,
        finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH,
      });
    default:
      return undefined;
  }
}

/** What node:http reports for a connection closed before any response: a reset. */
function hangUp(): Error {
  return Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
}

/** Like undici's socket errors, so callers classify a cut body as a connection failure. */
function prematureClose(): Error {
  return Object.assign(new Error("terminated: the connection closed before the body was complete"), {
    code: "ECONNRESET",
  });
}
