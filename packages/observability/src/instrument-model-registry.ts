import type { AttemptEvent, CallOptions, LanguageModel, ModelRegistry } from "@noa/providers";
import { ROOT_CONTEXT, recordSpan, SpanKind, tracesUnder } from "./tracing.js";

/** What the instrumented registry reports, e.g. to an app's metrics. */
export interface ModelCallObserver {
  /** One try of one provider target (routing wrappers' AttemptEvent). */
  providerAttempt(event: AttemptEvent): void;
  /** A request moved on to `target` after its first target failed or was skipped. */
  fallback(target: string): void;
  /** Time from a streaming call to its first generated text, by the model id asked for. */
  firstToken(model: string, seconds: number): void;
}

type Observer = ModelCallObserver;

/**
 * The registry with every model measured and traced: each provider attempt (metrics: outcome, latency,
 * retries; a `provider attempt` span under the request's), each move to a fallback target, and a
 * stream's time to its first text. Wraps the router, so answers served without calling a provider (a
 * cache in front of it) count no provider request.
 */
export function instrumentModelRegistry(registry: ModelRegistry, metrics?: Observer): ModelRegistry {
  return {
    listModels: () => registry.listModels(),
    getModel: (id) => registry.getModel(id),
    close: () => registry.close(),
    languageModel(id) {
      return instrumentModel(id, registry.languageModel(id), metrics);
    },
  };
}

function instrumentModel(id: string, model: LanguageModel, metrics?: Observer): LanguageModel {
  const observed = (options: CallOptions): CallOptions => {
    // Attempts are reported when they end; their spans are made then, with their real start time,
    // under the call's trace context (the request's span).
    const parent = options.traceContext ?? ROOT_CONTEXT;
    // Decided once per call, so an untraced call builds no span options per attempt.
    const traced = tracesUnder(parent);
    let first: string | undefined;
    // Made at the first fallback only: most calls are served by their first target.
    let fellBackTo: Set<string> | undefined;
    return {
      ...options,
      onAttempt(event: AttemptEvent) {
        if (traced) {
          recordSpan("provider attempt", {
            parent,
            kind: SpanKind.CLIENT,
            durationMs: event.durationMs,
            attributes: {
              "noa.target": event.target,
              "noa.attempt": event.attempt,
              "noa.outcome": event.outcome,
            },
            error: event.error,
          });
        }
        metrics?.providerAttempt(event);
        if (first === undefined) first = event.target;
        else if (event.target !== first && !fellBackTo?.has(event.target)) {
          fellBackTo ??= new Set();
          fellBackTo.add(event.target);
          metrics?.fallback(event.target);
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
          metrics?.firstToken(id, (performance.now() - started) / 1000);
        }
        yield part;
      }
    },
  };
}
