import { CircuitOpenError } from "../errors/circuit-open-error.js";
import { ProviderError } from "../errors/provider-error.js";
import type { CallOptions, LanguageModel, StreamPart } from "../language-model.js";
import type { CircuitBreaker } from "./circuit-breaker.js";

/**
 * Skips the target while its breaker is open (CircuitOpenError, so fallback moves on without calling it)
 * and feeds the breaker: retryable ProviderErrors count as target failures; caller errors, bugs and
 * cancellations count as nothing.
 */
export function withCircuitBreaker(model: LanguageModel, breaker: CircuitBreaker): LanguageModel {
  const target = `${model.provider}/${model.modelId}`;

  function acquire(options: CallOptions): void {
    if (breaker.tryAcquire()) return;
    const error = new CircuitOpenError(target, breaker.snapshot().retryAt ?? Date.now(), model.provider);
    options.onAttempt?.({ target, attempt: 0, outcome: "circuit-open", error, durationMs: 0 });
    throw error;
  }
  function settle(outcome: "success" | "cancelled" | unknown): void {
    if (outcome === "success") breaker.recordSuccess();
    else if (outcome instanceof ProviderError && outcome.isRetryable) breaker.recordFailure();
    else breaker.release();
  }

  return {
    provider: model.provider,
    modelId: model.modelId,
    async generate(options) {
      acquire(options);
      try {
        const result = await model.generate(options);
        settle(result.finishReason === "cancelled" ? "cancelled" : "success");
        return result;
      } catch (error) {
        settle(error);
        throw error;
      }
    },
    async *stream(options): AsyncGenerator<StreamPart> {
      acquire(options);
      let settled = false;
      try {
        for await (const part of model.stream(options)) {
          if (part.type === "finish") {
            settle(part.finishReason === "cancelled" ? "cancelled" : "success");
            settled = true;
          }
          yield part;
        }
      } catch (error) {
        if (!settled) settle(error);
        settled = true;
        throw error;
      } finally {
        // The consumer stopped reading early: nothing learnt about the target.
        if (!settled) breaker.release();
      }
    },
  };
}
