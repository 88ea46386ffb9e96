import { type ServerResponse, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { correlationIdFrom, correlationIdHeader } from "@noa/observability";
import type { Logger } from "pino";
import type { GatewayMetrics } from "../create-metrics.js";
import { correlationIdOf } from "../request-context.js";
import { securityHeaders } from "./security-headers.js";

/** The HTTP/1.1 server's limits, for answers that say which one the client met. */
export interface ClientErrorLimits {
  /** How long a whole request may take to arrive; 0: no limit (NOA_REQUEST_TIMEOUT_MS). */
  requestTimeoutMs: number;
  /** How long its headers may take. */
  headersTimeoutMs: number;
  /** Largest request head (request line and headers) Node's parser takes, in bytes. */
  maxHeaderBytes: number;
}

/** What a client error is answered with: status, what happened and what to do, the log line's code. */
interface Refusal {
  status: number;
  code: string;
  message: string;
}

/**
 * The server's `clientError` listener (https://nodejs.org/docs/latest-v20.x/api/http.html#event-clienterror):
 * answers as Node 20 would itself (408 for a request not received in time, 431 for headers too large, 413
 * for chunk extensions too large, 400 for anything else it cannot parse), but with a correlation id in the
 * `x-correlation-id` header and in a plain-text body that says what to do, the security headers and
 * `Connection: close`; then closes the connection, logs one line and counts it (route `unparsed`). The id is
 * the request's own when its headers reached the handler, else a new one. A reset connection, one that
 * can no longer be written, or one whose response has begun is only closed: an answer there would
 * corrupt what the client reads. Nothing of the parser's error or of the request's bytes reaches the
 * client or the log.
 */
export function createClientErrorHandler(deps: {
  logger: Logger;
  metrics?: Pick<GatewayMetrics, "unparsedRequest">;
  limits: ClientErrorLimits;
  /** The response in progress on this connection, if any. */
  responseOn: (socket: Duplex) => ServerResponse | undefined;
}): (error: Error, socket: Duplex) => void {
  const { logger, metrics, limits, responseOn } = deps;
  return (error, socket) => {
    const cause = (error as NodeJS.ErrnoException).code;
    const response = responseOn(socket);
    const inProgress = response !== undefined && !response.writableEnded;
    if (cause === "ECONNRESET" || !socket.writable || (inProgress && response.headersSent)) {
      socket.destroy();
      return;
    }
    const { status, code, message } = refusalOf(cause, limits);
    const correlationId = inProgress ? correlationIdOf(response.req) : correlationIdFrom(undefined);
    const body = `${message} (correlation id: ${correlationId})\n`;
    const head = [
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
      "connection: close",
      "content-type: text/plain; charset=utf-8",
      `content-length: ${Buffer.byteLength(body)}`,
      `${correlationIdHeader}: ${correlationId}`,
      ...securityHeaderLines,
    ];
    // As Node does: the answer is small enough to leave at once, then the connection goes (the parser
    // cannot go on after an error, nor a timed-out request be read on).
    socket.write(`${head.join("\r\n")}\r\n\r\n${body}`);
    socket.destroy();
    logger.info(
      {
        correlationId,
        ...(inProgress && { method: response.req.method }),
        route: "unparsed",
        status,
        code,
        cause,
      },
      "http",
    );
    metrics?.unparsedRequest(status);
  };
}

const securityHeaderLines = Object.entries(securityHeaders).map(([name, value]) => `${name}: ${value}`);

/** The answer Node 20's own would have had (lib/_http_server.js socketOnError), said for a person. */
function refusalOf(cause: string | undefined, limits: ClientErrorLimits): Refusal {
  switch (cause) {
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return { status: 408, code: "request_timeout", message: timeoutMessage(limits) };
    case "HPE_HEADER_OVERFLOW":
      return {
        status: 431,
        code: "request_headers_too_large",
        message: `the request line and headers are larger than this server's limit of ${limits.maxHeaderBytes} bytes; send fewer or smaller headers`,
      };
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
      return {
        status: 413,
        code: "request_too_large",
        message:
          "the request's chunk extensions are larger than this server accepts; send the body without them",
      };
    default:
      return {
        status: 400,
        code: "malformed_request",
        message: "the request is not valid HTTP/1.1; send a well-formed request",
      };
  }
}

/** Which limit a request not received in time met: headers and body share one unless it is over 60 s. */
function timeoutMessage({ requestTimeoutMs, headersTimeoutMs }: ClientErrorLimits): string {
  if (requestTimeoutMs === headersTimeoutMs) {
    return `the request was not received within ${requestTimeoutMs} ms (NOA_REQUEST_TIMEOUT_MS); send it faster`;
  }
  if (requestTimeoutMs === 0) {
    return `the request's headers were not received within ${headersTimeoutMs} ms; send them faster`;
  }
  return `the request was not received in time (its headers within ${headersTimeoutMs} ms, all of it within ${requestTimeoutMs} ms: NOA_REQUEST_TIMEOUT_MS); send it faster`;
}
