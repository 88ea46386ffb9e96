import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { Duplex } from "node:stream";
import { correlationIdHeader } from "@noa/observability";
import type { Logger } from "pino";
import type { GatewayMetrics } from "./create-metrics.js";
import { type ConnectionState, createClientErrorHandler } from "./http/create-client-error-handler.js";
import { correlationIdOf } from "./request-context.js";

type Handler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** Serves one handler over HTTP/1.1 and HTTP/2 prior-knowledge (h2c) on a single TCP port. */
export interface OnePortServer {
  listen(port: number, host: string): Promise<net.AddressInfo>;
  /** Stops accepting, lets open requests finish for up to `graceMs`, then destroys what is left. */
  close(options: { graceMs: number }): Promise<void>;
  /** Client connections open now. */
  connections(): number;
}

const http2Preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/**
 * Node 20's `http2.createServer({ allowHTTP1: true })` only speaks HTTP/1.1 after TLS ALPN, so a plain
 * TCP listener sniffs the first bytes: connections that open with the HTTP/2 preface go to an http2
 * server, the rest to an http server, both running the same handler (gRPC needs h2c; curl, browsers
 * and gRPC-Web usually arrive over HTTP/1.1). What Node's HTTP/1.1 parser refuses or stops waiting for
 * never reaches the handler: createClientErrorHandler answers it, with a correlation id as every answer.
 */
export function createOnePortServer(
  handler: Handler,
  options: {
    /**
     * How long a client may take to send a whole request, headers and body (408 after), over HTTP/1.1
     * and HTTP/2 alike; 0: no limit on the body (headers and an HTTP/2 session's first stream still get 60 s).
     */
    requestTimeoutMs?: number;
    /** Where the requests answered before the handler (malformed, too slow, headers too large) are logged. */
    logger: Logger;
    /** Counts those requests. */
    metrics?: Pick<GatewayMetrics, "unparsedRequest">;
  },
): OnePortServer {
  const { requestTimeoutMs = 300_000, logger, metrics } = options;
  const headersTimeoutMs = requestTimeoutMs > 0 ? Math.min(60_000, requestTimeoutMs) : 60_000;
  // Only receiving the request is timed: a long streamed answer is bounded by the model's own timeouts.
  const http1Server = http.createServer(
    {
      requestTimeout: requestTimeoutMs,
      headersTimeout: headersTimeoutMs,
      // How often Node looks for requests past those limits.
      connectionsCheckingInterval: Math.min(
        30_000,
        Math.max(250, Math.floor(requestTimeoutMs / 4) || 30_000),
      ),
    },
    handler,
  );
  http1Server.on(
    "clientError",
    createClientErrorHandler({
      logger,
      metrics,
      limits: { requestTimeoutMs, headersTimeoutMs, maxHeaderBytes: http.maxHeaderSize },
      stateOf: connectionState,
    }),
  );
  // The same limits for HTTP/2, which Node does not enforce there: a session must open its first stream,
  // and each request must arrive whole, within them.
  const http2Server = http2.createServer(
    {},
    requestTimeoutMs > 0 ? withHttp2RequestTimeout(handler, requestTimeoutMs) : handler,
  );
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  http2Server.on("session", (session) => {
    sessions.add(session);
    const firstStream = setTimeout(() => session.destroy(), headersTimeoutMs);
    session.once("stream", () => clearTimeout(firstStream));
    session.once("close", () => {
      clearTimeout(firstStream);
      sessions.delete(session);
    });
  });

  // Nagle's algorithm would hold each small streamed write until the client's (delayed) ACK of the last:
  // tens of milliseconds between tokens. http.createServer turns it off itself, but it never sees the accept.
  const tcpServer = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    // Read (not "data": a flowing socket would lose the bytes the http parser takes from the handle)
    // until the first bytes tell the protocol, then put them back for the chosen server.
    let head = Buffer.alloc(0);
    // A client that never says which protocol it speaks is not kept waiting for.
    const undecided = setTimeout(() => socket.destroy(), headersTimeoutMs);
    socket.once("close", () => clearTimeout(undecided));
    const onReadable = () => {
      for (let chunk: Buffer | null = socket.read(); chunk !== null; chunk = socket.read()) {
        head = Buffer.concat([head, chunk]);
      }
      const compared = Math.min(head.length, http2Preface.length);
      const isHttp2 = head.subarray(0, compared).equals(http2Preface.subarray(0, compared));
      // Wait for more bytes only while the connection could still be HTTP/2.
      if (compared === 0 || (isHttp2 && compared < http2Preface.length)) return;
      socket.off("readable", onReadable);
      clearTimeout(undecided);
      socket.unshift(head);
      (isHttp2 ? http2Server : http1Server).emit("connection", socket);
    };
    socket.on("readable", onReadable);
  });

  return {
    connections: () => sockets.size,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        tcpServer.once("error", reject);
        tcpServer.listen(port, host, () => {
          tcpServer.off("error", reject);
          // The http server never listens itself (connections are handed to it), but Node starts its
          // connection tracking on "listening": without it neither requestTimeout/headersTimeout are
          // enforced nor closeIdleConnections() finds the idle keep-alive connections to close.
          http1Server.emit("listening");
          resolve(tcpServer.address() as net.AddressInfo);
        });
      });
    },
    async close({ graceMs }) {
      const closed = new Promise<void>((resolve) => tcpServer.close(() => resolve()));
      for (const session of sessions) session.close();
      http1Server.closeIdleConnections();
      http1Server.close();
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      });
      // An HTTP/1.1 keep-alive connection closes as soon as its open response ends.
      const drain = setInterval(() => http1Server.closeIdleConnections(), 50);
      await Promise.race([closed, graceOver]);
      clearInterval(drain);
      clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/**
 * What Node's HTTP/1.1 server knows of a connection, read where its own socketOnError reads it: the
 * parser's message (`parser.incoming`, made when a request's headers are complete and handed to the
 * handler, `complete` once its body is in) and the response being written (`_httpMessage`, set while
 * one is assigned to the socket). Read when a client error comes rather than tracked per request.
 */
function connectionState(socket: Duplex): ConnectionState {
  const { parser, _httpMessage: response } = socket as Duplex & {
    parser?: { incoming?: http.IncomingMessage | null } | null;
    _httpMessage?: http.ServerResponse | null;
  };
  const incoming = parser?.incoming;
  return {
    ...(incoming &&
      !incoming.complete && {
        receiving: { response: response?.req === incoming && !response.writableEnded ? response : undefined },
      }),
    ...(response && { responding: { headersSent: response.headersSent } }),
  };
}

/**
 * An HTTP/2 request whose body has not fully arrived `timeoutMs` after its headers, and which has no
 * answer yet, is answered 408 (as HTTP/1.1 is) with its correlation id, in the header and the body, and its
 * stream then reset with NO_ERROR, which tells the client to stop sending (RFC 9113 §8.1); the handler's
 * read of the body ends with it.
 */
function withHttp2RequestTimeout(handler: Handler, timeoutMs: number): Handler {
  return (req, res) => {
    const stream = (req as http2.Http2ServerRequest).stream;
    if (!stream.endAfterHeaders) {
      const timer = setTimeout(() => {
        const response = res as http2.Http2ServerResponse;
        // Only a request still arriving is timed: once the client has sent it all (END_STREAM, whether
        // the handler read it to the end or not) or an answer has begun, the call runs its course.
        if (stream.closed || stream.state.remoteClose || response.headersSent) return;
        const correlationId = correlationIdOf(req);
        response.writeHead(408, {
          "content-type": "text/plain; charset=utf-8",
          [correlationIdHeader]: correlationId,
        });
        response.end(
          `the request was not received within ${timeoutMs} ms (NOA_REQUEST_TIMEOUT_MS); send it faster (correlation id: ${correlationId})\n`,
        );
        stream.close(http2.constants.NGHTTP2_NO_ERROR);
      }, timeoutMs);
      const clear = () => clearTimeout(timer);
      req.once("end", clear);
      stream.once("close", clear);
    }
    handler(req, res);
  };
}
