import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { CompleteResponseSchema, type InferenceService, StreamCompleteResponseSchema } from "@noa/proto";
import { admissionOf } from "../auth-interceptor.js";
import type { CompletionFinish, CompletionService } from "../completion-service.js";
import { parseCompletionRequest } from "../parse-completion-request.js";
import { correlationIdKey, principalOf, requestedModelKey, traceContextKey } from "../request-context.js";
import { toProtoFinishReason, toProtoUsage } from "../to-proto-completion.js";

/**
 * InferenceService: the Connect face of the completion service. A call whose signal aborted (client
 * cancel, deadline, shutdown) ends with that status rather than with a partial answer that looks complete.
 */
export function createInferenceService({
  completions,
}: {
  completions: CompletionService;
}): ServiceImpl<typeof InferenceService> {
  function start(request: Parameters<typeof parseCompletionRequest>[0], context: HandlerContext) {
    const { model, options } = parseCompletionRequest(request, context.signal);
    context.values.set(requestedModelKey, model);
    return completions.start({
      principal: principalOf(context.values),
      model,
      options,
      correlationId: context.values.get(correlationIdKey),
      traceContext: context.values.get(traceContextKey),
      admitted: admissionOf(context.values),
    });
  }

  return {
    async complete(request, context) {
      const result = await (await start(request, context)).generate();
      throwIfAborted(context);
      return create(CompleteResponseSchema, {
        id: context.values.get(correlationIdKey),
        text: result.text,
        ...finishFields(result),
      });
    },

    async *streamComplete(request, context) {
      const id = context.values.get(correlationIdKey);
      for await (const event of (await start(request, context)).stream()) {
        if (event.type === "text") {
          yield create(StreamCompleteResponseSchema, { id, text: event.text });
          continue;
        }
        throwIfAborted(context);
        yield create(StreamCompleteResponseSchema, { id, ...finishFields(event) });
      }
    },
  };
}

function finishFields(finish: CompletionFinish) {
  return {
    finishReason: toProtoFinishReason(finish.finishReason),
    usage: toProtoUsage(finish.usage),
    provider: finish.provider,
    model: finish.model,
    attempts: finish.attempts,
    costUsd: finish.costUsd,
    cached: finish.cacheTier !== undefined,
    cacheTier: finish.cacheTier ?? "",
  };
}

function throwIfAborted(context: HandlerContext): void {
  if (!context.signal.aborted) return;
  const reason: unknown = context.signal.reason;
  throw reason instanceof ConnectError ? reason : new ConnectError("the call was cancelled", Code.Canceled);
}
