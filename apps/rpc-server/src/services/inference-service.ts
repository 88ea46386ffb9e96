import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { CompleteResponseSchema, type InferenceService, StreamCompleteResponseSchema } from "@noa/proto";
import type { ModelRegistry } from "@noa/providers";
import { parseCompletionRequest } from "../parse-completion-request.js";
import { correlationIdKey } from "../request-context.js";
import { toProtoFinishReason, toProtoUsage } from "../to-proto-completion.js";

/**
 * InferenceService over the model registry. The call's signal (client cancel, deadline, shutdown) is
 * handed to the provider, so a caller that leaves stops the generation; the call then ends with the
 * signal's status rather than a partial answer that looks complete.
 */
export function createInferenceService({
  registry,
}: {
  registry: ModelRegistry;
}): ServiceImpl<typeof InferenceService> {
  return {
    async complete(request, context) {
      const { model, options } = parseCompletionRequest(request, context.signal);
      const languageModel = registry.languageModel(model);
      const result = await languageModel.generate(options);
      throwIfAborted(context);
      return create(CompleteResponseSchema, {
        id: context.values.get(correlationIdKey),
        text: result.text,
        finishReason: toProtoFinishReason(result.finishReason),
        usage: toProtoUsage(result.usage),
        provider: languageModel.provider,
        model: `${languageModel.provider}/${languageModel.modelId}`,
      });
    },

    async *streamComplete(request, context) {
      const { model, options } = parseCompletionRequest(request, context.signal);
      const languageModel = registry.languageModel(model);
      const id = context.values.get(correlationIdKey);
      for await (const part of languageModel.stream(options)) {
        if (part.type === "text-delta") {
          yield create(StreamCompleteResponseSchema, { id, text: part.text });
          continue;
        }
        throwIfAborted(context);
        yield create(StreamCompleteResponseSchema, {
          id,
          finishReason: toProtoFinishReason(part.finishReason),
          usage: toProtoUsage(part.usage),
          provider: languageModel.provider,
          model: `${languageModel.provider}/${languageModel.modelId}`,
        });
      }
    },
  };
}

function throwIfAborted(context: HandlerContext): void {
  if (!context.signal.aborted) return;
  const reason: unknown = context.signal.reason;
  throw reason instanceof ConnectError ? reason : new ConnectError("the call was cancelled", Code.Canceled);
}
