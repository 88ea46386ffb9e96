import type { IncomingMessage, ServerResponse } from "node:http";
import { type Http2ServerRequest, Http2ServerResponse } from "node:http2";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createConnectRouter,
  createContextValues,
  type Interceptor,
} from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import { logRequestLine } from "@noa/observability";
import type { Logger } from "pino";
import { acceptedCompressions as compressions } from "./accepted-compressions.js";
import { admissionKey } from "./auth-interceptor.js";
import { canceledByClient } from "./canceled-by-client.js";
import { outcomeName } from "./classify-error.js";
import type { GatewayMetrics } from "./create-metrics.js";
import { mapConnectRefusal, type RefusedCall } from "./map-connect-refusal.js";
import { protocolOf } from "./protocol-of.js";
import { setRateLimitHeaders } from "./rate-limit-headers.js";
import { correlationIdKey, correlationIdOf, interceptedKey } from "./request-context.js";

type Request = IncomingMessage | Http2ServerRequest;
type Response = ServerResponse | Http2ServerResponse;

/** What the RPC face is made of; the services come from `routes`, as with connectNodeAdapter. */
export interface RpcHandlerOptions {
  routes(router: ConnectRouter): void;
  /** The first one takes every call first (createRequestInterceptor: the call's log line and error mapping). */
  interceptors: Interceptor[];
  /** Largest request message accepted, in bytes. */
  readMaxBytes: number;
  /** Ends the calls in flight when the server's shutdown grace is over. */
  shutdownSignal: AbortSignal;
  /** Answers a request whose path names no procedure served here (REST, operations routes, 404s). */
  fallback(req: Request, res: Response): void;
  logger: Logger;
  metrics?: Pick<GatewayMetrics, "rpcRequest">;
}

/**
 * The RPC face on Node's http and http2 servers: Connect's router (gRPC, gRPC-Web and Connect), as
 * connectNodeAdapter runs it, plus three things it leaves out.
 * - A refusal Connect makes before NOA's interceptors run (a method, content type or HTTP version the
 *   procedure does not take; a unary request it cannot read: malformed or too large, a bad timeout or
 *   encoding header) is answered as NOA answers any error, with the correlation id (mapConnectRefusal),
 *   and logged and counted as the interceptor logs and counts every other call (an `rpc` line,
 *   `noa_rpc_requests_total`). So is a request Connect cannot take at all (HTTP/1.0 without `Host`), which
 *   connectNodeAdapter throws on outside any promise, ending the process. A client that leaves while its
 *   request is read, or cancels mid-message (canceledByClient), is counted `canceled`.
 * - Every call that took a request from the caller's bucket answers, success or error, with where the
 *   bucket stands (`x-ratelimit-*-requests`, as the REST face); a refused one's error carries it (toConnectError).
 * - The call's context carries its correlation id from the start (correlationIdKey).
 */
export function createRpcHandler(options: RpcHandlerOptions): (req: Request, res: Response) => void {
  const { fallback, logger, metrics } = options;
  const router = createConnectRouter({
    acceptCompression: compressions,
    interceptors: options.interceptors,
    readMaxBytes: options.readMaxBytes,
    shutdownSignal: options.shutdownSignal,
  });
  options.routes(router);
  const paths = new Map<string, UniversalHandler>();
  for (const handler of router.handlers) paths.set(handler.requestPath, handler);

  /** Answers a call no interceptor saw, and writes its log line and metric as the request interceptor would. */
  async function refuse(
    refusal: UniversalServerResponse | ConnectError,
    handler: UniversalHandler,
    req: Request,
    res: Response,
    correlationId: string,
    startedAt: number,
  ): Promise<void> {
    const call: RefusedCall = {
      procedure: `${handler.service.typeName}/${handler.method.name}`,
      methodKind: handler.method.methodKind,
      allowedMethods: handler.allowedMethods,
      protocol: protocolOf(req.headers["content-type"]),
      httpMethod: req.method ?? "",
      httpVersion: req.httpVersion,
      contentType: req.headers["content-type"] ?? "",
    };
    // A client that went away while Connect read its request: Connect's "internal error" is its leaving,
    // no bug of NOA's, and nobody is left to answer.
    const gone = res instanceof Http2ServerResponse ? res.stream.destroyed : res.destroyed;
    const { response, code } = gone
      ? { response: undefined, code: Code.Canceled }
      : await mapConnectRefusal(refusal, call, { correlationId, logger, compressions });
    const ms = performance.now() - startedAt;
    // Written at once: only the call's line and metric may wait, on the stream's close (below).
    const answered = response ? universalResponseToNodeResponse(response, res) : undefined;
    const logged = (async () => {
      // An HTTP/2 client cancelling mid-message ends its request before it resets the stream: Connect
      // refused an envelope cut short (INVALID_ARGUMENT), but the client left, as the reset then says.
      const outcome =
        !gone && res instanceof Http2ServerResponse && (await canceledByClient(res.stream))
          ? Code.Canceled
          : code;
      logRequestLine(
        logger,
        {
          correlationId,
          procedure: call.procedure,
          protocol: call.protocol,
          code: outcomeName(outcome),
          ms: Math.round(ms * 10) / 10,
        },
        "rpc",
      );
      metrics?.rpcRequest({
        service: handler.service.typeName,
        method: handler.method.name,
        protocol: call.protocol,
        code: outcome,
        seconds: ms / 1000,
      });
    })();
    await Promise.all([answered, logged]);
  }

  /** The answer could not be written whole: the client went away (Aborted), or a bug, which is logged. */
  function failed(reason: unknown, handler: UniversalHandler, res: Response): void {
    if (ConnectError.from(reason).code === Code.Aborted) return;
    logger.error(
      { err: reason, procedure: `${handler.service.typeName}/${handler.method.name}` },
      "RPC response failed",
    );
    // Never leave the client waiting for an answer that will not come.
    if (!res.writableEnded) res.destroy();
  }

  return (req, res) => {
    const url = req.url ?? "";
    const query = url.indexOf("?");
    const handler = paths.get(query === -1 ? url : url.slice(0, query));
    if (!handler) {
      fallback(req, res);
      return;
    }
    const startedAt = performance.now();
    const correlationId = correlationIdOf(req);
    const contextValues = createContextValues().set(correlationIdKey, correlationId);
    let request: ReturnType<typeof universalRequestFromNodeRequest>;
    try {
      request = universalRequestFromNodeRequest(req, res, undefined, contextValues);
    } catch {
      // Its only refusal: no authority for the request's URL (HTTP/1.0 allows leaving Host out).
      const noHost = new ConnectError(
        "the request has no Host header, which an RPC needs: send one (HTTP/1.1 and HTTP/2 clients always do)",
        Code.InvalidArgument,
      );
      refuse(noHost, handler, req, res, correlationId, startedAt).catch((reason: unknown) =>
        failed(reason, handler, res),
      );
      return;
    }
    handler(request)
      .then((response) => {
        if (!contextValues.get(interceptedKey)) {
          return refuse(response, handler, req, res, correlationId, startedAt);
        }
        const admitted = contextValues.get(admissionKey);
        if (admitted && response.header) setRateLimitHeaders(response.header, admitted);
        return universalResponseToNodeResponse(response, res);
      })
      .catch((reason: unknown) => failed(reason, handler, res));
  };
}
