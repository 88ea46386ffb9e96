import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import { endStreamFlag, endStreamToJson, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { elapsedMs } from "@noa/observability";
import { ServerReflection } from "@noa/proto/grpc/reflection/v1";
import type { Logger } from "pino";
import type { GatewayMetrics } from "../create-metrics.js";
import { correlationIdOf } from "../request-context.js";
import { RestRequestError } from "../rest/rest-request-error.js";
import { toOpenAIError } from "../rest/to-openai-error.js";
import { logHttpRequest } from "./log-http-request.js";
import { sendJson } from "./send-json.js";

type Request = IncomingMessage | Http2ServerRequest;
type Response = ServerResponse | Http2ServerResponse;

/** The RPC protocols a request for an unknown procedure may speak, and how each is answered. */
type RpcProtocol = "grpc" | "grpc-web" | "connect" | "connect-stream";

/** Longest procedure or path quoted back (in the answer and the log line); a client chooses it. */
const maxQuoted = 200;

/**
 * The answer for a request no route took: an RPC to a procedure the server does not serve gets
 * UNIMPLEMENTED as its own protocol spells it (gRPC and gRPC-Web: HTTP 200, `grpc-status: 12`,
 * https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md; Connect: HTTP 404 with a Connect error
 * body, or an end-of-stream message for a streaming call, https://connectrpc.com/docs/protocol), naming the
 * procedure and server reflection; anything else gets the REST face's 404. Each is logged and counted as
 * route `unknown`.
 */
export function createNotFoundHandler(deps: {
  /** The services the server routes, to say whether the service or only the method is unknown. */
  services: readonly DescService[];
  logger: Logger;
  metrics?: Pick<GatewayMetrics, "httpRequest">;
}): (req: Request, res: Response) => void {
  const { logger, metrics } = deps;
  const services = new Set(deps.services.map((service) => service.typeName));

  function unimplementedMessage(path: string): string {
    const [service = "", method = ""] = path.slice(1).split("/", 2);
    const reflection = `server reflection (${ServerReflection.typeName})`;
    if (services.has(service)) {
      return `unknown method ${quote(method)} for service ${service}; ${reflection} lists its methods`;
    }
    return `unknown service ${quote(service)}${method ? ` (method ${quote(method)})` : ""}; ${reflection} lists the services served here`;
  }

  return (req, res) => {
    const startedAt = performance.now();
    const correlationId = correlationIdOf(req);
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    const query = url.indexOf("?");
    const path = query === -1 ? url : url.slice(0, query);
    const protocol = rpcProtocolOf(req, path, query === -1 ? "" : url.slice(query + 1));
    let line: Record<string, string>;
    if (protocol) {
      const message = `${unimplementedMessage(path)} (correlation id: ${correlationId})`;
      sendUnimplemented(req, res, protocol, message);
      line = {
        protocol: protocol === "connect-stream" ? "connect" : protocol,
        code: "unimplemented",
        procedure: quote(path.slice(1)),
      };
    } else {
      const { status, headers, body } = toOpenAIError(
        new RestRequestError(404, `no route for ${method} ${quote(path)}`, { code: "unknown_url" }),
        { correlationId, logger },
      );
      sendJson(req, res, status, body, headers);
      line = { path: quote(path) };
    }
    const ms = elapsedMs(startedAt);
    // gRPC always answers HTTP 200; its UNIMPLEMENTED counts as 404, the HTTP status gRPC maps it from,
    // so that dashboards see a refusal, not a success.
    const status = protocol === "grpc" || protocol === "grpc-web" ? 404 : res.statusCode;
    logHttpRequest(
      { logger, metrics },
      Object.assign({ correlationId, method, route: "unknown", status, ms }, line),
      "info",
    );
  };
}

/**
 * Which RPC protocol a request speaks, by the content type each protocol requires: gRPC's and gRPC-Web's
 * `application/grpc*`, Connect streaming's `application/connect+*`, and Connect unary's JSON or binary
 * POST (or GET with `connect=v1`) to a `/<package.Service>/<Method>` path, or with its protocol header.
 * Undefined for anything else.
 */
function rpcProtocolOf(req: Request, path: string, query: string): RpcProtocol | undefined {
  const contentType = (req.headers["content-type"] ?? "").toLowerCase();
  if (contentType.startsWith("application/grpc-web")) return "grpc-web";
  if (/^application\/grpc($|[+;])/.test(contentType)) return "grpc";
  if (contentType.startsWith("application/connect+")) return "connect-stream";
  const procedurePath = /^\/[^/]+\.[^/]+\/[^/]+$/.test(path);
  if (req.method === "POST" && /^application\/(json|proto)($|;)/.test(contentType)) {
    return procedurePath || req.headers["connect-protocol-version"] !== undefined ? "connect" : undefined;
  }
  if (req.method === "GET" && procedurePath && new URLSearchParams(query).get("connect") === "v1") {
    return "connect";
  }
  return undefined;
}

/**
 * Writes UNIMPLEMENTED with `message` as `protocol` spells an error that comes before any message, with
 * Connect's own encoders for Connect's error JSON and end-of-stream envelope.
 */
function sendUnimplemented(req: Request, res: Response, protocol: RpcProtocol, message: string): void {
  const error = new ConnectError(message, Code.Unimplemented);
  if (protocol === "grpc" || protocol === "grpc-web") {
    // Trailers-only: the status goes in the headers, and with nothing written before end(), Node sends
    // them with END_STREAM over HTTP/2, as gRPC clients expect; gRPC-Web reads them from the headers.
    // Connect's setTrailerStatus writes grpc-status and grpc-message (percent-encoded as the gRPC spec says).
    res.statusCode = 200;
    res.setHeader("content-type", req.headers["content-type"] ?? "application/grpc");
    const status = new Headers();
    setTrailerStatus(status, error);
    for (const [name, value] of status) res.setHeader(name, value);
    res.end();
    return;
  }
  if (protocol === "connect") {
    const body = errorToJsonBytes(error, undefined);
    res.writeHead(404, {
      "content-type": "application/json",
      "content-length": body.byteLength,
    });
    res.end(body);
    return;
  }
  // A Connect stream answers 200 and ends with an EndStreamResponse, which is JSON whatever the codec.
  const endStream = new TextEncoder().encode(
    JSON.stringify(endStreamToJson(new Headers(), error, undefined)),
  );
  const envelope = encodeEnvelope(endStreamFlag, endStream);
  res.writeHead(200, {
    "content-type": String(req.headers["content-type"]),
    "content-length": envelope.byteLength,
  });
  res.end(envelope);
}

/** A client-chosen string, cut to maxQuoted characters. */
function quote(text: string): string {
  return text.length > maxQuoted ? `${text.slice(0, maxQuoted)}…` : text;
}
