import { Code, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { GatewayMetrics } from "./create-metrics.js";
import { correlationIdHeader, correlationIdKey } from "./request-context.js";
import { toConnectError } from "./to-connect-error.js";

/**
 * Wraps every RPC: returns the correlation id in the response header, maps whatever the handler throws
 * to a ConnectError once (also for errors raised mid-stream), and writes one log line per call when it
 * ends, with its outcome and duration, also counted in `metrics` when given.
 */
export function createRequestInterceptor({
  logger,
  metrics,
}: {
  logger: Logger;
  metrics?: Pick<GatewayMetrics, "rpcRequest">;
}): Interceptor {
  return (next) => async (request) => {
    const correlationId = request.contextValues.get(correlationIdKey);
    const started = performance.now();
    const line = {
      correlationId,
      procedure: `${request.service.typeName}/${request.method.name}`,
      protocol: protocolOf(request.header.get("content-type")),
    };
    const finish = (code: Code | undefined, extra?: object) => {
      const ms = performance.now() - started;
      logger.info({ ...line, code: code === undefined ? "ok" : Code[code], ms: round(ms), ...extra }, "rpc");
      metrics?.rpcRequest({
        service: request.service.typeName,
        method: request.method.name,
        protocol: line.protocol,
        code,
        seconds: ms / 1000,
      });
    };
    const fail = (error: unknown) => {
      const connectError = toConnectError(error, { correlationId, logger });
      finish(connectError.code);
      return connectError;
    };

    let response: Awaited<ReturnType<typeof next>>;
    try {
      response = await next(request);
    } catch (error) {
      throw fail(error);
    }
    response.header.set(correlationIdHeader, correlationId);
    if (!response.stream) {
      finish(undefined);
      return response;
    }
    const messages = response.message;
    return {
      ...response,
      message: (async function* () {
        let sent = 0;
        let ended = false;
        try {
          for await (const message of messages) {
            sent++;
            yield message;
          }
          ended = true;
          finish(undefined, { messages: sent });
        } catch (error) {
          ended = true;
          throw fail(error);
        } finally {
          // The consumer stopped early: the client went away.
          if (!ended) finish(Code.Canceled, { messages: sent });
        }
      })(),
    };
  };
}

function protocolOf(contentType: string | null): string {
  if (contentType?.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType?.startsWith("application/grpc")) return "grpc";
  return "connect";
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
