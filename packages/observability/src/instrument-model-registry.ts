import type { AttemptEvent, CallOptions, LanguageModel, ModelRegistry } from "@noa/providers";
import type { GatewayMetrics } from "./create-metrics.js";

type Observer = Pick<GatewayMetrics, "providerAttempt" | "fallback" | "firstToken">;

/**
 * The registry with every model measured: each provider attempt (outcome, latency, retries), each move
 * to a fallback target, and a stream's time to its first text. Wraps the router, so answers served
 * without calling a provider (a cache in front of it) count no provider request.
 */
export function instrumentModelRegistry(registry: ModelRegistry, metrics: Observer): ModelRegistry {
  return {
    listModels: () => registry.listModels(),
    getModel: (id) => registry.getModel(id),
    close: () => registry.close(),
    languageModel(id) {
      return instrumentModel(id, registry.languageModel(id), metrics);
    },
  };
}

function instrumentModel(id: string, model: LanguageModel, metrics: Observer): LanguageModel {
  const observed = (options: CallOptions): CallOptions => {
    let first: string | undefined;
    const fellBackTo = new Set<string>();
    return {
      ...options,
      onAttempt(event: AttemptEvent) {
        metrics.providerAttempt(event);
        if (first === undefined) first = event.target;
        else if (event.target !== first && !fellBackTo.has(event.target)) {
          fellBackTo.add(event.target);
          metrics.fallback(event.target);
        }
        options.onAttempt?.(event);
      },
    };
  };
  return {
    provider: model.provider,
    modelId: model.modelId,
    generate: (options) => model.generate(observed(options)),
    async *stream(options) {
      const started = performance.now();
      let timed = false;
      for await (const part of model.stream(observed(options))) {
        if (!timed && part.type === "text-delta" && part.text !== "") {
          timed = true;
          metrics.firstToken(id, (performance.now() - started) / 1000);
        }
        yield part;
      }
    },
  };
}
