/** The head of an HTTP/1.x response, as far as a client needs it. */
export interface ResponseHead {
  status: number;
  statusText: string;
  /** Names and values in turn, as received. */
  rawHeaders: string[];
  /** The `content-encoding` header, trimmed and lowercased, if any. */
  contentEncoding: string | undefined;
  /** False for a response that has no body whatever the server sends (HEAD, 204, 304). */
  hasBody: boolean;
  /** The idle timeout the server announces (`keep-alive: timeout=<s>`), in seconds. */
  keepAliveTimeoutS: number | undefined;
}

/** What a parser reports, in order: one head, its body's bytes, then completion. */
export interface ResponseParserHandler {
  onHead(head: ResponseHead): void;
  onBody(chunk: Buffer): void;
  /** The response is whole; `keepAlive` tells whether the connection may carry another request. */
  onComplete(keepAlive: boolean): void;
}

/** A response the parser cannot accept; the connection it came on is unusable. `code` follows llhttp's. */
export class ResponseParseError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = "ResponseParseError";
  }
}

enum State {
  Head,
  Length,
  UntilClose,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  Done,
}

/** As Node's default (`--max-http-header-size`): a head, or a chunk-size or trailer line, longer than this is refused. */
const MAX_HEAD_BYTES = 16 * 1024;
/** A header name is an RFC 9110 token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A value holds no control characters but horizontal tab (CR and LF are the line ends already cut away). */
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/;
const CRLF = Buffer.from("\r\n");
const HEAD_END = Buffer.from("\r\n\r\n");

/**
 * An incremental HTTP/1.0–1.1 response parser (RFC 9112) for one request at a time on a connection: `begin`
 * names the request's method, `execute` takes the bytes as they arrive, `finish` the end of the stream.
 * Framing: no body for HEAD, 204 and 304; chunked when `transfer-encoding` ends with `chunked` (trailers
 * skipped); else `content-length`; else until the connection closes. Interim 1xx responses are skipped.
 * A connection is kept only for HTTP/1.1 (or 1.0 with `keep-alive`) without `connection: close`, a body
 * delimited by length or chunks and no conflicting framing headers. Malformed input throws
 * `ResponseParseError`; bytes beyond the response do too (nothing was asked for them).
 */
export class ResponseParser {
  #state = State.Done;
  #handler: ResponseParserHandler;
  #isHead = false;
  #keepAlive = false;
  /** Bytes left of the body (Length) or of the current chunk (ChunkData). */
  #remaining = 0;
  /** An incomplete head or line, kept until the rest arrives. */
  #pending: Buffer | undefined;
  #stopped = false;

  constructor(handler: ResponseParserHandler) {
    this.#handler = handler;
  }

  /** Expects the response to a request of `method`. */
  begin(method: string): void {
    this.#state = State.Head;
    this.#isHead = method === "HEAD";
    this.#pending = undefined;
    this.#stopped = false;
  }

  /** Whether a response is expected or under way. */
  get active(): boolean {
    return this.#state !== State.Done;
  }

  /** Whether the head is in and the body still arriving. */
  get inBody(): boolean {
    return this.#state !== State.Head && this.#state !== State.Done;
  }

  /** Stops parsing: nothing more is reported (the connection is being destroyed). */
  stop(): void {
    this.#state = State.Done;
    this.#pending = undefined;
    this.#stopped = true;
  }

  execute(input: Buffer): void {
    let data = input;
    if (this.#pending) {
      data = Buffer.concat([this.#pending, input]);
      this.#pending = undefined;
    }
    let offset = 0;
    while (offset < data.length) {
      switch (this.#state) {
        case State.Head: {
          const end = data.indexOf(HEAD_END, offset);
          if (end === -1 || end - offset > MAX_HEAD_BYTES) {
            this.#keep(data, offset, "HPE_HEADER_OVERFLOW");
            return;
          }
          this.#parseHead(data.toString("latin1", offset, end));
          offset = end + 4;
          break;
        }
        case State.Length:
        case State.ChunkData: {
          const take = Math.min(this.#remaining, data.length - offset);
          const chunk = data.subarray(offset, offset + take);
          offset += take;
          this.#remaining -= take;
          const ended = this.#remaining === 0;
          if (ended) this.#state = this.#state === State.ChunkData ? State.ChunkDataEnd : State.Done;
          this.#handler.onBody(chunk);
          if (ended && this.#state === State.Done && !this.#stopped) this.#complete();
          break;
        }
        case State.UntilClose: {
          const chunk = offset === 0 ? data : data.subarray(offset);
          offset = data.length;
          this.#handler.onBody(chunk);
          break;
        }
        case State.ChunkSize:
        case State.Trailers: {
          const end = data.indexOf(CRLF, offset);
          if (end === -1 || end - offset > MAX_HEAD_BYTES) {
            this.#keep(data, offset, "HPE_HEADER_OVERFLOW");
            return;
          }
          const line = data.toString("latin1", offset, end);
          offset = end + 2;
          if (this.#state === State.ChunkSize) this.#chunkSize(line);
          else if (line === "") {
            this.#state = State.Done;
            this.#complete();
          }
          break;
        }
        case State.ChunkDataEnd: {
          if (data.length - offset < 2) {
            this.#keep(data, offset, "HPE_STRICT");
            return;
          }
          if (data[offset] !== 13 || data[offset + 1] !== 10) {
            throw new ResponseParseError("a chunk does not end with CRLF", "HPE_STRICT");
          }
          offset += 2;
          this.#state = State.ChunkSize;
          break;
        }
        case State.Done:
          // Stopped by a handler, or bytes nobody asked for.
          if (this.#stopped) return;
          throw new ResponseParseError("data after the end of the response", "HPE_INVALID_CONSTANT");
      }
    }
  }

  /**
   * The connection ended. True when that completed the response (a body delimited by the close); false
   * when no response had begun; throws when one was cut short.
   */
  finish(): boolean {
    if (this.#state === State.UntilClose) {
      this.#state = State.Done;
      this.#keepAlive = false;
      this.#complete();
      return true;
    }
    if (this.#state === State.Done) return false;
    if (this.#state === State.Head && this.#pending === undefined) return false;
    this.#state = State.Done;
    throw new ResponseParseError("the connection closed before the response was complete", "ECONNRESET");
  }

  #complete(): void {
    this.#handler.onComplete(this.#keepAlive);
  }

  /** Keeps an unfinished head or line for the next bytes, unless it is already too long. */
  #keep(data: Buffer, offset: number, code: string): void {
    if (data.length - offset > MAX_HEAD_BYTES) {
      throw new ResponseParseError("a response head or line is too long", code);
    }
    this.#pending = data.subarray(offset);
  }

  #parseHead(text: string): void {
    const lines = text.split("\r\n");
    const match = STATUS_LINE.exec(lines[0] as string);
    if (!match) throw new ResponseParseError("not an HTTP/1.x status line", "HPE_INVALID_CONSTANT");
    const minor = match[1];
    const status = Number(match[2]);
    if (status < 100) throw new ResponseParseError("invalid status code", "HPE_INVALID_STATUS");
    const rawHeaders: string[] = [];
    let contentLength: string | undefined;
    let transferEncoding: string | undefined;
    let connection: string | undefined;
    let contentEncoding: string | undefined;
    let keepAliveTimeoutS: number | undefined;
    for (let index = 1; index < lines.length; index++) {
      const line = lines[index] as string;
      const colon = line.indexOf(":");
      const name = colon > 0 ? line.slice(0, colon) : "";
      if (!TOKEN.test(name)) throw new ResponseParseError("invalid header line", "HPE_INVALID_HEADER_TOKEN");
      const value = trimOws(line.slice(colon + 1));
      if (INVALID_VALUE.test(value)) {
        throw new ResponseParseError("invalid character in a header value", "HPE_INVALID_HEADER_TOKEN");
      }
      rawHeaders.push(name, value);
      switch (name.length) {
        case 10: {
          const lower = name.toLowerCase();
          if (lower === "connection") connection = join(connection, value);
          else if (lower === "keep-alive") {
            // As node:http's agent reads the hint.
            const timeout = /^timeout=(\d+)/.exec(value)?.[1];
            if (timeout !== undefined) keepAliveTimeoutS = Number(timeout);
          }
          break;
        }
        case 14:
          if (name.toLowerCase() === "content-length") {
            if (!/^\d+$/.test(value) || (contentLength !== undefined && contentLength !== value)) {
              throw new ResponseParseError("invalid content-length", "HPE_UNEXPECTED_CONTENT_LENGTH");
            }
            contentLength = value;
          }
          break;
        case 16:
          if (name.toLowerCase() === "content-encoding") contentEncoding = join(contentEncoding, value);
          break;
        case 17:
          if (name.toLowerCase() === "transfer-encoding") transferEncoding = join(transferEncoding, value);
          break;
      }
    }

    if (status < 200) {
      // 101 would switch protocols, which nothing here asked for; other 1xx are interim: the real one follows.
      if (status === 101) throw new ResponseParseError("unexpected protocol switch", "HPE_INVALID_STATUS");
      return;
    }
    const tokens = connection?.toLowerCase();
    this.#keepAlive =
      minor === "1"
        ? !hasToken(tokens, "close")
        : hasToken(tokens, "keep-alive") && !hasToken(tokens, "close");
    const hasBody = !(this.#isHead || status === 204 || status === 304);
    if (!hasBody) this.#state = State.Done;
    else if (transferEncoding !== undefined) {
      // Framing by both headers is how requests get smuggled: take the transfer coding, keep no connection.
      if (contentLength !== undefined) this.#keepAlive = false;
      const codings = transferEncoding.toLowerCase().split(",");
      if (trimOws(codings[codings.length - 1] as string) === "chunked") this.#state = State.ChunkSize;
      else {
        this.#state = State.UntilClose;
        this.#keepAlive = false;
      }
    } else if (contentLength !== undefined) {
      this.#remaining = Number(contentLength);
      if (!Number.isSafeInteger(this.#remaining)) {
        throw new ResponseParseError("invalid content-length", "HPE_INVALID_CONTENT_LENGTH");
      }
      this.#state = this.#remaining === 0 ? State.Done : State.Length;
    } else {
      this.#state = State.UntilClose;
      this.#keepAlive = false;
    }
    this.#handler.onHead({
      status,
      statusText: match[3] ?? "",
      rawHeaders,
      contentEncoding: contentEncoding?.trim().toLowerCase(),
      hasBody,
      keepAliveTimeoutS,
    });
    if (this.#state === State.Done && !this.#stopped) this.#complete();
  }

  #chunkSize(line: string): void {
    const semicolon = line.indexOf(";");
    const hex = trimOws(semicolon === -1 ? line : line.slice(0, semicolon));
    if (!/^[0-9A-Fa-f]{1,12}$/.test(hex))
      throw new ResponseParseError("invalid chunk size", "HPE_INVALID_CHUNK_SIZE");
    this.#remaining = Number.parseInt(hex, 16);
    this.#state = this.#remaining === 0 ? State.Trailers : State.ChunkData;
  }
}

function trimOws(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && (text.charCodeAt(start) === 32 || text.charCodeAt(start) === 9)) start++;
  while (end > start && (text.charCodeAt(end - 1) === 32 || text.charCodeAt(end - 1) === 9)) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

function join(previous: string | undefined, value: string): string {
  return previous === undefined ? value : `${previous}, ${value}`;
}

function hasToken(list: string | undefined, token: string): boolean {
  if (list === undefined) return false;
  for (const item of list.split(",")) if (trimOws(item) === token) return true;
  return false;
}
