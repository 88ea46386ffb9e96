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
 * `Connection: close`; then closes the connection, logs one line and counts it (route `unparsed`), with a
 * new id. A request whose headers reached the handler, still unanswered (its body too slow), is answered
 * the same way through its response, with its own id, and logged and counted by the handler's line. A
 * reset connection, one that can no longer be written, a request already answered (Node's timer runs on
 * after an early answer) or a connection whose response has begun is only closed: an answer there would
 * corrupt what the client reads, or answer twice. Nothing of the parser's error or of the request's bytes
 * reaches the client or the log.
 */
export function createClientErrorHandler(deps: {
  logger: Logger;
  metrics?: Pick<GatewayMetrics, "unparsedRequest">;
  limits: ClientErrorLimits;
  /** What the connection is busy with when the error comes (see ConnectionState). */
  stateOf: (socket: Duplex) => ConnectionState;
}): (error: Error, socket: Duplex) => void {
  const { logger, metrics, limits, stateOf } = deps;
  return (error, socket) => {
    const cause = (error as NodeJS.ErrnoException).code;
    const { receiving, responding } = stateOf(socket);
    if (
      cause === "ECONNRESET" ||
      !socket.writable ||
      (receiving && (!receiving.response || cause === "HPE_INVALID_EOF_STATE")) ||
      responding?.headersSent
    ) {
      // Nobody to answer (a reset, or a client that ended its side mid-request: the handler reports that
      // as a cancel), an answer already given for this request, or one begun that a second would corrupt.
      socket.destroy();
      return;
    }
    const { status, code, message } = refusalOf(cause, limits);
    if (receiving?.response) {
      // The handler has this request and has not answered: it is answered through its response, which the
      // handler's own log line and metrics then report (so nothing is logged or counted here).
      answerThrough(receiving.response, status, message);
      return;
    }
    const correlationId = correlationIdFrom(undefined);
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
    logger.info({ correlationId, route: "unparsed", status, code, cause }, "http");
    metrics?.unparsedRequest(status);
  };
}

/** What an HTTP/1.1 connection is busy with when its client error comes. */
export interface ConnectionState {
  /**
   * The request whose headers reached the handler and whose body is still arriving, with its response
   * while that can still be answered; none once it was answered (an early 401, 408 or 413: Node's timer
   * runs on) or while another request's response goes out first.
   */
  receiving?: { response: ServerResponse | undefined };
  /** The response being written on the connection: once its headers are out, nothing else may be. */
  responding?: { headersSent: boolean };
}

/** Answers `status` through the handler's response, with `Connection: close`, then closes the connection. */
function answerThrough(response: ServerResponse, status: number, message: string): void {
  const correlationId = correlationIdOf(response.req);
  const body = `${message} (correlation id: ${correlationId})\n`;
  response.shouldKeepAlive = false;
  response.writeHead(status, {
    connection: "close",
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    [correlationIdHeader]: correlationId,
  });
  response.end(body, () => response.socket?.destroy());
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
