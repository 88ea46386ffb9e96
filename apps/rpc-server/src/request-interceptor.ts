import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import {
  extractTraceContext,
  logRequestLine,
  type RequestLineFields,
  SpanKind,
  SpanStatusCode,
  startSpan,
} from "@noa/observability";
import type { Logger } from "pino";
import { outcomeName } from "./classify-error.js";
import type { GatewayMetrics } from "./create-metrics.js";
import { protocolOf } from "./protocol-of.js";
import { correlationIdKey, interceptedKey, requestedModelKey, traceContextKey } from "./request-context.js";
import { toConnectError } from "./to-connect-error.js";

/**
 * Wraps every RPC (the server has already put its correlation id on the response): maps whatever the
 * handler throws to a ConnectError once (also for errors raised mid-stream), and writes one log line per
 * call when it ends, with its outcome and duration, also counted in `metrics` when given. The line, the
 * metric and the span spell the outcome alike (outcomeName: `ok`, `not_found`…). It must be the first
 * interceptor: it marks the call as taken (interceptedKey), and a call it never saw was refused by
 * Connect (createRpcHandler answers, logs and counts those).
 */
export function createRequestInterceptor({
  logger,
  metrics,
}: {
  logger: Logger;
  metrics?: Pick<GatewayMetrics, "rpcRequest">;
}): Interceptor {
  return (next) => async (request) => {
    request.contextValues.set(interceptedKey, true);
    const correlationId = request.contextValues.get(correlationIdKey);
    const started = performance.now();
    const requested = request.stream ? undefined : (request.message as { model?: unknown }).model;
    const line = {
      correlationId,
      procedure: `${request.service.typeName}/${request.method.name}`,
      protocol: protocolOf(request.header.get("content-type")),
      ...(typeof requested === "string" && requested !== "" ? { model: requested } : {}),
    };
    // A server span continuing the caller's trace (traceparent); the handler makes its spans under it.
    const { span, within } = startSpan(line.procedure, {
      kind: SpanKind.SERVER,
      parent: extractTraceContext(request.header),
      attributes: {
        "rpc.system": line.protocol,
        "rpc.service": request.service.typeName,
        "rpc.method": request.method.name,
        "noa.correlation_id": correlationId,
      },
    });
    request.contextValues.set(traceContextKey, within);
    const finish = (code: Code | undefined, extra?: RequestLineFields) => {
      const ms = performance.now() - started;
      // One spelling of the outcome for the span, the log line and the metric (outcomeName).
      const outcome = outcomeName(code);
      span.setAttribute("rpc.connect_rpc.error_code", outcome);
      if (code !== undefined && code !== Code.Canceled)
        span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
      span.end();
      // Not `{ ...line, code, ms }`: on Node 20 each key a literal adds after a spread costs ~1 µs.
      const fields = Object.assign({}, line, { code: outcome, ms: round(ms) });
      logRequestLine(logger, Object.assign(fields, extra), "rpc");
      metrics?.rpcRequest({
        service: request.service.typeName,
        method: request.method.name,
        protocol: line.protocol,
        code,
        seconds: ms / 1000,
      });
    };
    const fail = (error: unknown) => {
      const connectError = toConnectError(error, { correlationId, logger, signal: request.signal });
      finish(connectError.code);
      return connectError;
    };

    let response: Awaited<ReturnType<typeof next>>;
    try {
      response = await next(request);
    } catch (error) {
      throw fail(error);
    }
    if (!response.stream) {
      finish(undefined, answerFields(response.message));
      return response;
    }
    const messages = response.message;
    return {
      ...response,
      message: (async function* () {
        let sent = 0;
        let ended = false;
        let handlerDone = false;
        const end = (code: Code | undefined, extra: RequestLineFields) => {
          if (ended) return;
          ended = true;
          finish(code, Object.assign({ model: request.contextValues.get(requestedModelKey) }, extra));
        };
        const iterator = messages[Symbol.asyncIterator]();
        const step = async () => {
          try {
            const result = await iterator.next();
            handlerDone = result.done === true;
            return result;
          } catch (error) {
            handlerDone = true;
            throw error;
          }
        };
        const stopHandler = () => {
          if (handlerDone) return Promise.resolve();
          handlerDone = true;
          return (iterator.return?.() ?? Promise.resolve()).then(
            () => {},
            () => {},
          );
        };
        // The client went away. The writer may never come back to this generator (a write to a
        // destroyed stream can wait forever for a drain), so the call ends here, and the handler is
        // stopped at once: its generation ends and its usage is recorded.
        const onClientGone = () => {
          if (ConnectError.from(request.signal.reason).code !== Code.Canceled) return;
          void stopHandler();
          end(Code.Canceled, { messages: sent });
        };
        request.signal.addEventListener("abort", onClientGone, { once: true });
        try {
          let last: unknown;
          for (let result = await step(); !result.done; result = await step()) {
            sent++;
            last = result.value;
            try {
              yield result.value;
            } catch (error) {
              // Writing failed: the client is gone, not a fault of the call.
              end(Code.Canceled, { messages: sent });
              throw error;
            }
          }
          end(undefined, { messages: sent, ...answerFields(last) });
        } catch (error) {
          if (ended) throw error;
          ended = true;
          throw fail(error);
        } finally {
          request.signal.removeEventListener("abort", onClientGone);
          // The consumer stopped early: stop the handler too.
          await stopHandler();
          end(Code.Canceled, { messages: sent });
        }
      })(),
    };
  };
}

/**
 * What the log line says of an answer (a Complete response or a stream's last message): the model and
 * provider that served it, tokens, attempts and whether the cache served it. Nothing for other messages.
 */
function answerFields(message: unknown): RequestLineFields {
  if (typeof message !== "object" || message === null || !("usage" in message)) return {};
  const answer = message as {
    model?: string;
    provider?: string;
    attempts?: number;
    cached?: boolean;
    usage?: { promptTokens?: number; completionTokens?: number };
  };
  if (!answer.usage) return {};
  return {
    served: answer.model,
    provider: answer.provider,
    attempts: answer.attempts,
    promptTokens: answer.usage.promptTokens,
    completionTokens: answer.usage.completionTokens,
    cached: answer.cached ?? false,
  };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
