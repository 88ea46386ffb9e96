import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import type { Readable } from "node:stream";
import zlib from "node:zlib";

/** How the sockets of one `createHttpFetch` are pooled. */
export interface HttpFetchOptions {
  /** Most sockets open at once per host; requests beyond wait for one. Defaults to 256. */
  maxSockets?: number;
  /** How long an idle socket stays in the pool; defaults to 4 s, under Node servers' 5 s keep-alive. */
  keepAliveMs?: number;
}

/** A `fetch` over `node:http`/`node:https` that owns its keep-alive sockets until `close()`. */
export type HttpFetch = typeof globalThis.fetch & {
  /** Destroys every socket of this fetch's agents, idle or in use. */
  close(): void;
};

/** Statuses whose response has no body, whatever the server sends. */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * A `fetch` for the vendor SDKs (`openai`, `@anthropic-ai/sdk`) on `node:http` with a keep-alive
 * agent, much cheaper per call than Node's global fetch (undici's WHATWG layers). It covers what the
 * SDKs use: method, headers, a string, bytes or `ReadableStream` body, `signal` (aborting destroys
 * the socket, before or during the response), and a `Response` with status, headers, a body stream,
 * `json()` and `text()`. A failure before the headers rejects (the SDKs report a connection error);
 * a socket closed mid-body errors the body with an `ECONNRESET`-coded error.
 */
export function createHttpFetch({ maxSockets = 256, keepAliveMs = 4_000 }: HttpFetchOptions = {}): HttpFetch {
  const agentOptions = { keepAlive: true, maxSockets, timeout: keepAliveMs, scheduling: "lifo" as const };
  const httpAgent = new http.Agent(agentOptions);
  let httpsAgent: https.Agent | undefined;

  // SDKs call the same few URLs over and over: parse each once (URLs are not mutated below).
  const parsed = new Map<string, URL>();
  const parseUrl = (input: string): URL => {
    let url = parsed.get(input);
    if (!url) {
      url = new URL(input);
      if (parsed.size >= 64) parsed.clear();
      parsed.set(input, url);
    }
    return url;
  };

  const httpFetch = (async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url =
      typeof input === "string" ? parseUrl(input) : input instanceof URL ? input : new URL(input.url);
    const signal = init.signal ?? undefined;
    if (signal?.aborted) throw abortReason(signal);
    const isHttps = url.protocol === "https:";
    if (!isHttps && url.protocol !== "http:")
      throw new TypeError(`fetch: unsupported protocol ${url.protocol}`);
    if (isHttps && !httpsAgent) httpsAgent = new https.Agent(agentOptions);
    const agent = isHttps ? httpsAgent : httpAgent;
    const headers = toHeaderRecord(init.headers);
    const method = init.method?.toUpperCase() ?? "GET";
    const body = typeof init.body === "string" ? init.body : await toRequestBody(init.body, headers);
    if (signal?.aborted) throw abortReason(signal);
    // As fetch does: a body of known length goes with content-length, in one write with the headers,
    // rather than chunked (several buffers, and more work for the server).
    if (typeof body === "string") headers["content-length"] ??= String(Buffer.byteLength(body));
    else if (body instanceof Uint8Array) headers["content-length"] ??= String(body.byteLength);

    return new Promise<Response>((resolve, reject) => {
      const request = (isHttps ? https : http).request(url, { method, headers, agent });
      let response: HttpResponse | undefined;
      const onAbort = () => {
        const reason = abortReason(signal as AbortSignal);
        request.destroy();
        if (response) response.fail(reason);
        else reject(reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      const detach = () => signal?.removeEventListener("abort", onAbort);

      request.on("error", (error) => {
        if (response) response.fail(error);
        else {
          detach();
          reject(new TypeError("fetch failed", { cause: error }));
        }
      });
      request.on("response", (message) => {
        response = new HttpResponse(message, url.href, request, detach, method === "HEAD");
        resolve(response as unknown as Response);
      });

      if (body === undefined || typeof body === "string" || body instanceof Uint8Array) request.end(body);
      else writeStream(request, body);
    });
  }) as HttpFetch;

  httpFetch.close = () => {
    httpAgent.destroy();
    httpsAgent?.destroy();
  };
  return httpFetch;
}

/** The body of an `IncomingMessage` as a `Response`: `json()`/`text()` read the node stream directly. */
class HttpResponse {
  readonly status: number;
  readonly statusText: string;
  readonly ok: boolean;
  readonly type = "basic";
  readonly redirected = false;
  #rawHeaders: string[];
  #headers: Headers | undefined;
  #stream: ReadableStream<Uint8Array> | null | undefined;
  #used = false;
  #settled = false;
  #error: unknown;
  #onData: ((chunk: Buffer) => void) | undefined;
  #onEnd: (() => void) | undefined;
  #onError: ((error: unknown) => void) | undefined;
  /** The body's bytes: the message itself, or its decoder when the server compressed it. */
  private readonly source: Readable;

  constructor(
    message: IncomingMessage,
    readonly url: string,
    private readonly request: http.ClientRequest,
    private readonly detach: () => void,
    isHead: boolean,
  ) {
    this.status = message.statusCode ?? 0;
    this.statusText = message.statusMessage ?? "";
    this.ok = this.status >= 200 && this.status < 300;
    this.#rawHeaders = message.rawHeaders;
    if (isHead || NULL_BODY_STATUSES.has(this.status)) this.#stream = null;
    // Like fetch, undo a content-encoding the server applied (none is asked for: no accept-encoding is sent).
    const decoder = this.#stream === null ? undefined : createDecoder(message.headers["content-encoding"]);
    const source = decoder ? message.pipe(decoder) : message;
    this.source = source;
    if (decoder) decoder.on("error", (error) => this.fail(error));
    source.on("data", (chunk: Buffer) => this.#onData?.(chunk));
    source.on("end", () => {
      if (this.#settled) return;
      this.#settled = true;
      this.detach();
      this.#onEnd?.();
    });
    message.on("error", (error) => this.fail(error));
    message.on("close", () => {
      if (!message.complete) this.fail(prematureClose());
    });
    // Nothing flows until someone reads: the socket's own buffering applies backpressure meanwhile.
    source.pause();
  }

  /** Ends the body with `error` (abort, socket error) and destroys the socket. */
  fail(error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#error = error;
    this.#onData = undefined;
    this.#onEnd = undefined;
    this.detach();
    this.request.destroy();
    this.source.destroy();
    this.#onError?.(error);
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

  #take(): void {
    if (this.#used) throw new TypeError("Body is unusable: Body has already been read");
    this.#used = true;
  }

  /** The whole body from the node stream, without going through a web stream. */
  #readAll(): Promise<Buffer> {
    if (this.#stream?.locked) throw new TypeError("Body is unusable: Body has already been read");
    this.#take();
    if (this.#stream === null) {
      this.source.resume();
      return Promise.resolve(Buffer.alloc(0));
    }
    return new Promise((resolve, reject) => {
      if (this.#settled && this.#error !== undefined) return reject(this.#error);
      const chunks: Buffer[] = [];
      this.#onData = (chunk) => chunks.push(chunk);
      this.#onEnd = () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
      this.#onError = reject;
      this.source.resume();
    });
  }

  /** Pulls from the node stream only while the reader asks, so backpressure reaches the socket. */
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
            this.#onData = (chunk) => {
              controller.enqueue(chunk);
              if ((controller.desiredSize ?? 0) <= 0) this.source.pause();
            };
            this.#onEnd = () => controller.close();
            this.#onError = (error) => controller.error(error);
          }
          this.source.resume();
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

  clone(): never {
    throw new TypeError("clone() is not supported by this fetch");
  }
}

/** A decompressor for the body's content-encoding, or undefined for identity and unknown codings. */
function createDecoder(
  encoding: string | undefined,
): zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | undefined {
  switch (encoding?.trim().toLowerCase()) {
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

/** What `signal` aborted with, as fetch rejects: its reason, or an `AbortError`. */
function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("This operation was aborted", "AbortError");
}

/** Like undici's socket errors, so callers classify a cut body as a connection failure. */
function prematureClose(): Error {
  return Object.assign(new Error("terminated: the connection closed before the body was complete"), {
    code: "ECONNRESET",
  });
}

function toHeaderRecord(init: RequestInit["headers"]): Record<string, string> {
  const record: Record<string, string> = {};
  if (!init) return record;
  if (init instanceof Headers) {
    init.forEach((value, name) => {
      record[name] = value;
    });
  } else if (Array.isArray(init)) {
    for (const [name, value] of init) record[(name as string).toLowerCase()] = value as string;
  } else {
    for (const [name, value] of Object.entries(init)) record[name.toLowerCase()] = String(value);
  }
  return record;
}

/** A string, bytes or a stream to write; anything else (Blob, FormData…) is encoded as fetch would. */
async function toRequestBody(
  body: RequestInit["body"],
  headers: Record<string, string>,
): Promise<string | Uint8Array | ReadableStream<Uint8Array> | undefined> {
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string" || body instanceof Uint8Array) return body;
  if (body instanceof ReadableStream) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  const encoded = new Response(body);
  const contentType = encoded.headers.get("content-type");
  if (contentType && headers["content-type"] === undefined) headers["content-type"] = contentType;
  return new Uint8Array(await encoded.arrayBuffer());
}

async function writeStream(request: http.ClientRequest, body: ReadableStream<Uint8Array>): Promise<void> {
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (request.destroyed) break;
      if (!request.write(value)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            request.off("drain", done);
            request.off("close", done);
            resolve();
          };
          request.on("drain", done);
          request.on("close", done);
        });
      }
    }
    if (request.destroyed) await reader.cancel();
    else request.end();
  } catch (error) {
    request.destroy(error instanceof Error ? error : new Error(String(error)));
  }
}
