import type { GenerateResult, LanguageModel, StreamPart, Usage } from "../language-model.js";
import type { CacheIdentity } from "./cache-key.js";
import type { ResponseCache } from "./response-cache.js";
import { splitForReplay } from "./split-for-replay.js";
import { trackServedModel } from "./track-served-model.js";

/** The cache and how this model is named in its keys. */
export interface WithCacheOptions {
  cache: ResponseCache;
  /** Defaults to the model's own `<provider>/<model>` as both requested and resolved. */
  identity?: CacheIdentity;
}

const noUsage: Usage = { promptTokens: 0, completionTokens: 0 };

/**
 * Answers from the response cache when it holds the call's answer, else calls the model and stores its
 * complete answer (never a cancelled or failed one). A cached answer to `stream` is replayed as a stream:
 * text in chunks, then the finish part with the stored usage. `options.cache` says how the call uses the
 * cache; `options.onCache` is told whether it hit, and which tier served.
 */
export function withCache(model: LanguageModel, { cache, identity }: WithCacheOptions): LanguageModel {
  const self = `${model.provider}/${model.modelId}`;
  const named = identity ?? { requested: self, resolved: [self] };

  return {
    provider: model.provider,
    modelId: model.modelId,

    async generate(options): Promise<GenerateResult> {
      const plan = cache.plan(named, options);
      if (!plan) {
        options.onCache?.({ status: "bypass" });
        return model.generate(options);
      }
      const hit = plan.read ? await cache.lookup(plan) : undefined;
      if (hit) {
        options.onCache?.({ status: "hit", source: hit.tier, model: hit.answer.model });
        if (options.signal?.aborted) return { text: "", finishReason: "cancelled", usage: noUsage };
        const { text, finishReason, usage } = hit.answer;
        return { text, finishReason, usage };
      }
      options.onCache?.({ status: plan.read ? "miss" : "refresh" });
      const tracked = trackServedModel(model, options);
      const result = await model.generate(tracked.options);
      if (result.finishReason !== "cancelled") {
        cache.store(plan, {
          text: result.text,
          finishReason: result.finishReason,
          usage: result.usage,
          model: tracked.served(),
        });
      }
      return result;
    },

    async *stream(options): AsyncGenerator<StreamPart> {
      const plan = cache.plan(named, options);
      if (!plan) {
        options.onCache?.({ status: "bypass" });
        yield* model.stream(options);
        return;
      }
      const hit = plan.read ? await cache.lookup(plan) : undefined;
      if (hit) {
        options.onCache?.({ status: "hit", source: hit.tier, model: hit.answer.model });
        let delivered = 0;
        for (const text of splitForReplay(hit.answer.text)) {
          if (options.signal?.aborted) break;
          yield { type: "text-delta", text };
          delivered++;
        }
        yield options.signal?.aborted
          ? {
              type: "finish",
              finishReason: "cancelled",
              usage: { promptTokens: 0, completionTokens: delivered },
            }
          : { type: "finish", finishReason: hit.answer.finishReason, usage: hit.answer.usage };
        return;
      }
      options.onCache?.({ status: plan.read ? "miss" : "refresh" });
      const tracked = trackServedModel(model, options);
      const texts: string[] = [];
      for await (const part of model.stream(tracked.options)) {
        if (part.type === "text-delta") texts.push(part.text);
        else if (part.finishReason !== "cancelled") {
          cache.store(plan, {
            text: texts.join(""),
            finishReason: part.finishReason,
            usage: part.usage,
            model: tracked.served(),
          });
        }
        yield part;
      }
    },
  };
}
