import type { CallSignal } from "../call-signal.js";
import { ProviderError } from "../errors/provider-error.js";
import type { GenerateResult, LanguageModel, StreamPart } from "../language-model.js";
import { abortableSleep } from "./abortable-sleep.js";

/** How a target is retried; data, so routes can override it. */
export interface RetryPolicy {
  /** Tries in all, the first included (seed design: 3). */
  maxAttempts: number;
  /** Backoff before retry n is 2^(n-1) × base, plus up to `jitter` of it. */
  baseDelayMs: number;
  /** Cap of the computed backoff (seed design: 5 minutes). */
  maxDelayMs: number;
  /** Fraction of random extra delay (seed design: 0.3). */
  jitter: number;
  /** A wait longer than this (e.g. a long Retry-After) is not worth it: give the target up so fallback can move on. */
  maxRetryDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 3,
  baseDelayMs: 500,
  maxDelayMs: 300_000,
  jitter: 0.3,
  maxRetryDelayMs: 20_000,
};

/** The wait before retry number `retry` (1-based): exponential backoff with jitter, at least what the server asked for. */
export function retryDelay(
  retry: number,
  policy: RetryPolicy,
  random: () => number,
  retryAfterMs?: number,
): number {
  const backoff = policy.baseDelayMs * 2 ** (retry - 1) * (1 + random() * policy.jitter);
  return Math.round(Math.max(Math.min(backoff, policy.maxDelayMs), retryAfterMs ?? 0));
}

export interface RetryDeps {
  sleep?: (ms: number, signal: CallSignal | undefined) => Promise<boolean>;
  random?: () => number;
}

const cancelledUsage = { promptTokens: 0, completionTokens: 0 };

/**
 * Retries a target on retryable ProviderErrors only (never a caller's 4xx, never a bug), honouring the
 * server's retry delay. A stream is retried only until its first token: after that the error goes up.
 * A caller that aborts during a backoff gets the `cancelled` ending of the LanguageModel contract.
 */
export function withRetry(model: LanguageModel, policy: RetryPolicy, deps: RetryDeps = {}): LanguageModel {
  const { sleep = abortableSleep, random = Math.random } = deps;
  const target = `${model.provider}/${model.modelId}`;

  /** The wait before the next try, or undefined when the error must go up. */
  const nextDelay = (attempt: number, error: unknown): number | undefined => {
    if (!(error instanceof ProviderError) || !error.isRetryable || attempt >= policy.maxAttempts)
      return undefined;
    const delay = retryDelay(attempt, policy, random, error.retryAfterMs);
    return delay <= policy.maxRetryDelayMs ? delay : undefined;
  };

  return {
    provider: model.provider,
    modelId: model.modelId,

    async generate(options): Promise<GenerateResult> {
      for (let attempt = 1; ; attempt++) {
        options.onAttemptStart?.({ target, attempt });
        const started = performance.now();
        try {
          const result = await model.generate(options);
          const outcome = result.finishReason === "cancelled" ? "cancelled" : "ok";
          options.onAttempt?.({ target, attempt, outcome, durationMs: performance.now() - started });
          return result;
        } catch (error) {
          options.onAttempt?.({
            target,
            attempt,
            outcome: "error",
            error: error as Error,
            durationMs: performance.now() - started,
          });
          const delay = nextDelay(attempt, error);
          if (delay === undefined) throw error;
          if (!(await sleep(delay, options.signal)))
            return { text: "", finishReason: "cancelled", usage: cancelledUsage };
        }
      }
    },

    async *stream(options): AsyncGenerator<StreamPart> {
      for (let attempt = 1; ; attempt++) {
        options.onAttemptStart?.({ target, attempt });
        const started = performance.now();
        let delivered = 0;
        try {
          for await (const part of model.stream(options)) {
            if (part.type === "text-delta") delivered++;
            else {
              const outcome = part.finishReason === "cancelled" ? "cancelled" : "ok";
              options.onAttempt?.({ target, attempt, outcome, durationMs: performance.now() - started });
            }
            yield part;
          }
          return;
        } catch (error) {
          options.onAttempt?.({
            target,
            attempt,
            outcome: "error",
            error: error as Error,
            durationMs: performance.now() - started,
          });
          const delay = delivered === 0 ? nextDelay(attempt, error) : undefined;
          if (delay === undefined) throw error;
          if (!(await sleep(delay, options.signal))) {
            yield { type: "finish", finishReason: "cancelled", usage: cancelledUsage };
            return;
          }
        }
      }
    },
  };
}
