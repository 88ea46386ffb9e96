import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import { locateJsonError } from "./locate-json-error.js";
import { RestRequestError } from "./rest-request-error.js";

/** Limits on reading a request body. */
export interface BodyLimits {
  /** Largest body accepted, in bytes; larger ones get 413 without being read further. */
  maxBytes: number;
  /** How long the whole body may take to arrive (408 after it); 0 means no limit. */
  timeoutMs: number;
}

/**
 * Reads a request body and parses it as JSON. Refusals are RestRequestErrors that say what to fix: 413
 * (too large, told by `content-length` up front or counted while reading), 415 (compressed), 408 (too
 * slow), 400 (empty, or not JSON: with the line, column and what was wrong). A client that goes away
 * mid-body rejects the promise too; nobody is left to answer.
 */
export function readJsonBody(
  req: IncomingMessage | Http2ServerRequest,
  limits: BodyLimits,
): Promise<unknown> {
  const { maxBytes, timeoutMs } = limits;
  const tooLarge = () =>
    new RestRequestError(
      413,
      `the request body is larger than this server's limit of ${maxBytes} bytes (NOA_MAX_BODY_BYTES); send a smaller request`,
      { code: "request_too_large" },
    );
  const encoding = req.headers["content-encoding"];
  if (encoding !== undefined && encoding !== "identity") {
    return Promise.reject(
      new RestRequestError(
        415,
        `content-encoding "${encoding}" is not supported; send the body uncompressed`,
        {
          code: "unsupported_content_encoding",
        },
      ),
    );
  }
  const declared = Number(req.headers["content-length"]);
  if (declared > maxBytes) return Promise.reject(tooLarge());

  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let timer: NodeJS.Timeout | undefined;
    const done = (error: Error | undefined, value?: unknown) => {
      clearTimeout(timer);
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxBytes) {
        done(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      try {
        done(undefined, parseJson(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
      } catch (error) {
        done(error as Error);
      }
    };
    const onError = (error: Error) => done(error);
    const onClose = () => done(new Error("the client closed the connection while sending the body"));
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
    // A body the server has already received whole (a small one usually comes with its headers) needs no
    // timer; arming and clearing one per request cost a timer list of its own.
    if (timeoutMs > 0 && !req.complete) {
      timer = setTimeout(
        () =>
          done(
            new RestRequestError(
              408,
              `the request body did not arrive within ${timeoutMs} ms (NOA_REQUEST_TIMEOUT_MS); send it faster or make it smaller`,
              { code: "request_timeout" },
            ),
          ),
        timeoutMs,
      );
    }
  });
}

function parseJson(bytes: Buffer): unknown {
  let text = bytes.toString("utf8");
  // A UTF-8 byte order mark is allowed before JSON text (RFC 8259 §8.1) but JSON.parse refuses it.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text);
  } catch {
    if (text.trim() === "") {
      throw new RestRequestError(400, "the request body is empty; send a JSON object", {
        code: "invalid_json",
      });
    }
    const where = locateJsonError(text);
    const at = where
      ? `at line ${where.line}, column ${where.column} (position ${where.position}): ${where.problem}`
      : "";
    throw new RestRequestError(400, `the request body is not valid JSON ${at}; send a JSON object`, {
      code: "invalid_json",
    });
  }
}
