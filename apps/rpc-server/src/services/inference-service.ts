import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { CompleteResponseSchema, type InferenceService, StreamCompleteResponseSchema } from "@noa/proto";
import type { AttemptEvent, CallOptions, LanguageModel, ModelRegistry } from "@noa/providers";
import type { Logger } from "pino";
import { parseCompletionRequest } from "../parse-completion-request.js";
import { correlationIdKey } from "../request-context.js";
import { toProtoFinishReason, toProtoUsage } from "../to-proto-completion.js";

/**
 * InferenceService over the model router. The call's signal (client cancel, deadline, shutdown) is
 * handed to the provider, so a caller that leaves stops the generation; the call then ends with the
 * signal's status rather than a partial answer that looks complete. Each provider attempt is logged.
 */
export function createInferenceService({
  registry,
  logger,
}: {
  registry: ModelRegistry;
  logger: Logger;
}): ServiceImpl<typeof InferenceService> {
  function prepare(request: Parameters<typeof parseCompletionRequest>[0], context: HandlerContext) {
    const { model, options } = parseCompletionRequest(request, context.signal);
    const correlationId = context.values.get(correlationIdKey);
    const languageModel = registry.languageModel(model);
    const trace = traceAttempts(languageModel, (event) =>
      logger.info(
        {
          correlationId,
          target: event.target,
          attempt: event.attempt,
          outcome: event.outcome,
          ms: Math.round(event.durationMs),
          ...(event.error ? { error: event.error.message } : {}),
        },
        "provider attempt",
      ),
    );
    return {
      options: { ...options, onAttempt: trace.onAttempt } satisfies CallOptions,
      trace,
      id: correlationId,
    };
  }

  return {
    async complete(request, context) {
      const { options, trace, id } = prepare(request, context);
      const result = await trace.model.generate(options);
      throwIfAborted(context);
      return create(CompleteResponseSchema, {
        id,
        text: result.text,
        finishReason: toProtoFinishReason(result.finishReason),
        usage: toProtoUsage(result.usage),
        ...trace.servedBy(),
        attempts: trace.attempts(),
      });
    },

    async *streamComplete(request, context) {
      const { options, trace, id } = prepare(request, context);
      for await (const part of trace.model.stream(options)) {
        if (part.type === "text-delta") {
          yield create(StreamCompleteResponseSchema, { id, text: part.text });
          continue;
        }
        throwIfAborted(context);
        yield create(StreamCompleteResponseSchema, {
          id,
          finishReason: toProtoFinishReason(part.finishReason),
          usage: toProtoUsage(part.usage),
          ...trace.servedBy(),
          attempts: trace.attempts(),
        });
      }
    },
  };
}

/** Follows a call's attempts to tell which target served it and how many calls it took. */
function traceAttempts(model: LanguageModel, log: (event: AttemptEvent) => void) {
  const events: AttemptEvent[] = [];
  return {
    model,
    onAttempt(event: AttemptEvent) {
      events.push(event);
      log(event);
    },
    /** The target of the last attempt that answered; the model itself when no router reported attempts. */
    servedBy(): { provider: string; model: string } {
      const target = events.findLast(
        (event) => event.outcome === "ok" || event.outcome === "cancelled",
      )?.target;
      const served = target ?? `${model.provider}/${model.modelId}`;
      return { provider: served.slice(0, served.indexOf("/")), model: served };
    },
    attempts: () => Math.max(1, events.filter((event) => event.outcome !== "circuit-open").length),
  };
}

function throwIfAborted(context: HandlerContext): void {
  if (!context.signal.aborted) return;
  const reason: unknown = context.signal.reason;
  throw reason instanceof ConnectError ? reason : new ConnectError("the call was cancelled", Code.Canceled);
}
