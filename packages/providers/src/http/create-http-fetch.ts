import type { CallSignal } from "../call-signal.js";
import { ConnectionPool } from "./connection-pool.js";
import type { RequestBody } from "./http-connection.js";
import { abortReason, HttpResponse } from "./http-response.js";
import { type ProxySettings, proxyFor, unbracket } from "./proxy-settings.js";

/** How the sockets of one `createHttpFetch` are pooled. */
export interface HttpFetchOptions {
  /** Most sockets open at once per host; requests beyond wait for one. Defaults to 256. */
  maxSockets?: number;
  /** How long an idle socket may be reused; defaults to 4 s, under Node servers' 5 s keep-alive. */
  keepAliveMs?: number;
  /** Certificate authorities (PEM) that https servers' certificates must chain to, instead of Node's default set. */
  ca?: string;
  /**
   * The outbound proxy (proxySettingsFromEnv reads HTTPS_PROXY, HTTP_PROXY and NO_PROXY): https targets
   * go through CONNECT tunnels, http targets as absolute-form requests; none by default.
   */
  proxy?: ProxySettings;
}

/** fetch's options; the `signal` may also be a CallSignal, which NOA's own layers pass as it is. */
export type HttpFetchInit = Omit<RequestInit, "signal"> & { signal?: CallSignal | null };

/** A `fetch` over HTTP/1.1 keep-alive sockets (TCP, or TLS for https) that it owns until `close()`. */
export type HttpFetch = ((input: string | URL | Request, init?: HttpFetchInit) => Promise<Response>) & {
  /** Destroys every socket of this fetch, idle or in use; later calls open new ones. */
  close(): void;
};

/** A header name (and a method) is an RFC 9110 token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** As node:http refuses in a header value: control characters but tab (CR and LF above all), and beyond latin1. */
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
/** Methods that send `content-length: 0` when they have no body, as fetch and node:http do. */
const BODYLESS_METHODS = new Set(["GET", "HEAD", "DELETE", "OPTIONS", "TRACE", "CONNECT"]);

/** A target parsed once: its URL, the connection pool of its origin, and what the request head says of it. */
interface Target {
  readonly url: URL;
  readonly pool: ConnectionPool;
  /** `<path and query> HTTP/1.1\r\n` after the method (the whole URL for an http target behind a proxy). */
  requestLine: string;
  hostLine: string;
  /** The proxy's credentials, when an http request goes to a proxy that has some; else empty. */
  proxyLine: string;
}

/**
 * A `fetch` for the vendor SDKs (`openai`, `@anthropic-ai/sdk`) and NOA's own transports: HTTP/1.1 over
 * pooled keep-alive sockets (`ConnectionPool`, `ResponseParser`), with none of the per-request layers of
 * Node's global fetch (undici's WHATWG streams) or of node:http (ClientRequest, IncomingMessage, agent
 * bookkeeping): a request is one socket write and about a third of node:http's CPU. It covers what the
 * SDKs use: method, headers (validated as node:http does), a string, bytes or `ReadableStream` body,
 * `signal` (aborting destroys the socket, before or during the response), and a `Response` with status,
 * headers, a body stream, `json()` and `text()`; no redirects are followed and no encoding is asked for
 * (a gzip, deflate or br body is decoded all the same). A failure before the headers rejects like fetch
 * (a TypeError with the socket error as cause, which the SDKs report as a connection error); a socket
 * closed mid-body errors the body with an `ECONNRESET`-coded error.
 */
export function createHttpFetch({
  maxSockets = 256,
  keepAliveMs = 4_000,
  ca,
  proxy,
}: HttpFetchOptions = {}): HttpFetch {
  const limits = { maxSockets, keepAliveMs };
  const pools = new Map<string, ConnectionPool>();
  // SDKs call the same few URLs over and over: parse each once (URLs are not mutated below).
  const targets = new Map<string, Target>();

  const poolFor = (url: URL): ConnectionPool => {
    let pool = pools.get(url.origin);
    if (!pool) {
      const isHttps = url.protocol === "https:";
      pool = new ConnectionPool(
        {
          protocol: isHttps ? "https:" : "http:",
          host: unbracket(url.hostname),
          port: url.port ? Number(url.port) : isHttps ? 443 : 80,
          ca,
          proxy: proxyFor(proxy, url),
        },
        limits,
      );
      pools.set(url.origin, pool);
    }
    return pool;
  };

  const toTarget = (url: URL): Target => {
    if (url.protocol !== "http:" && url.protocol !== "https:")
      throw new TypeError(`fetch: unsupported protocol ${url.protocol}`);
    const pool = poolFor(url);
    // An http request to a proxy names the whole URL, with the proxy's credentials; https ones are tunnelled.
    const forwarded = pool.origin.protocol === "http:" ? pool.origin.proxy : undefined;
    return {
      url,
      pool,
      requestLine: ` ${forwarded ? `${url.origin}${url.pathname}` : url.pathname}${url.search} HTTP/1.1\r\n`,
      hostLine: `host: ${url.host}\r\n`,
      proxyLine: forwarded?.authorization ? `proxy-authorization: ${forwarded.authorization}\r\n` : "",
    };
  };

  const targetOf = (input: string | URL | Request): Target => {
    if (typeof input !== "string") return toTarget(input instanceof URL ? input : new URL(input.url));
    let target = targets.get(input);
    if (!target) {
      target = toTarget(new URL(input));
      if (targets.size >= 64) targets.clear();
      targets.set(input, target);
    }
    return target;
  };

  const send = (target: Target, init: HttpFetchInit, body: RequestBody, headers: Record<string, string>) => {
    const signal = init.signal ?? undefined;
    if (signal?.aborted) throw abortReason(signal);
    const method = init.method?.toUpperCase() ?? "GET";
    if (!TOKEN.test(method)) throw new TypeError(`fetch: invalid method ${JSON.stringify(method)}`);
    // As fetch does: a body of known length goes with content-length, in one write with the head, rather
    // than chunked (several buffers, and more work for the server).
    if (typeof body === "string") headers["content-length"] ??= String(Buffer.byteLength(body));
    else if (body instanceof Uint8Array) headers["content-length"] ??= String(body.byteLength);
    else if (body === undefined) {
      if (!BODYLESS_METHODS.has(method)) headers["content-length"] ??= "0";
    }
    const chunked = body instanceof ReadableStream && headers["content-length"] === undefined;
    if (chunked) headers["transfer-encoding"] = "chunked";
    let head = method + target.requestLine;
    if (headers.host === undefined) head += target.hostLine;
    head += target.proxyLine;
    for (const name in headers) {
      const value = headers[name] as string;
      if (!TOKEN.test(name)) throw new TypeError(`fetch: invalid header name ${JSON.stringify(name)}`);
      if (INVALID_VALUE.test(value)) throw new TypeError(`fetch: invalid character in header ${name}`);
      head += `${name}: ${value}\r\n`;
    }
    const connection = headers.connection?.toLowerCase();
    const keepAlive = connection === undefined || !/(^|,)\s*close\s*(,|$)/.test(connection);
    if (connection === undefined) head += "connection: keep-alive\r\n";
    const request = { method, head: `${head}\r\n`, body, chunked, keepAlive };
    return new HttpResponse(target.url.href, request, signal, target.pool).send();
  };

  const httpFetch = ((input: string | URL | Request, init: HttpFetchInit = {}): Promise<Response> => {
    try {
      const target = targetOf(input);
      const headers = toHeaderRecord(init.headers);
      const body = init.body;
      if (body === undefined || body === null) return send(target, init, undefined, headers);
      if (typeof body === "string") return send(target, init, body, headers);
      return toRequestBody(body, headers).then((bytes) => send(target, init, bytes, headers));
    } catch (error) {
      return Promise.reject(error);
    }
  }) as HttpFetch;

  httpFetch.close = () => {
    for (const pool of pools.values()) pool.destroy();
    pools.clear();
    targets.clear();
  };
  return httpFetch;
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
): Promise<RequestBody> {
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
