import type { Logger } from "../auth/logger.js";
import type { KeyLimits } from "../auth/principal.js";
import type { AdmitOptions, AdmitResult, RateLimiter } from "./rate-limiter.js";

/** `shared`: limits hold across replicas (Redis); `local`: each replica limits on its own until Redis returns. */
export type RateLimitMode = "shared" | "local";

/** The shared limiter, the local one it falls back to, and how eagerly it goes back. */
export interface FailoverRateLimiterOptions {
  /** Normally `createRedisRateLimiter`. */
  primary: RateLimiter;
  /** Normally `createLocalRateLimiter`, with the same defaults. */
  fallback: RateLimiter;
  logger: Logger;
  /** A cheap synchronous health signal, e.g. `() => redis.status === "ready"`; false skips the primary at once. */
  isHealthy?: () => boolean;
  /** Longest wait for the primary before a call is answered locally; defaults to 250 ms. */
  timeoutMs?: number;
  /** While local, how often one call tries the primary again; defaults to 1 000 ms. */
  retryIntervalMs?: number;
  now?: () => number;
}

/** A limiter that reports which mode it is in, for readiness and metrics. */
export interface FailoverRateLimiter extends RateLimiter {
  mode(): RateLimitMode;
}

/**
 * Uses the primary (shared) limiter and answers from the fallback (local) one when a primary call fails,
 * times out or `isHealthy` says no, so Redis going away never fails a request. It logs once when an outage
 * starts and once when it ends; while local, one admission per `retryIntervalMs` probes the primary.
 */
export function createFailoverRateLimiter(options: FailoverRateLimiterOptions): FailoverRateLimiter {
  const {
    primary,
    fallback,
    logger,
    isHealthy = () => true,
    timeoutMs = 250,
    retryIntervalMs = 1_000,
    now = Date.now,
  } = options;
  let mode: RateLimitMode = "shared";
  let outageStartedAt = 0;
  let nextProbeAt = 0;

  function goLocal(cause: unknown): void {
    nextProbeAt = now() + retryIntervalMs;
    if (mode === "local") return;
    mode = "local";
    outageStartedAt = now();
    logger.warn(
      { err: cause },
      "rate limiter: shared store unavailable, limiting per replica until it returns",
    );
  }

  function goShared(): void {
    if (mode === "shared") return;
    mode = "shared";
    logger.info(
      { outageMs: now() - outageStartedAt },
      "rate limiter: shared store back, limits shared again",
    );
  }

  // Only admissions probe: a charge may succeed without touching the store (no token limit), which says
  // nothing about its health.
  async function run<T>(call: (limiter: RateLimiter) => Promise<T>, mayProbe: boolean): Promise<T> {
    if (!isHealthy()) {
      goLocal(new Error("shared rate limit store reported unhealthy"));
      return call(fallback);
    }
    if (mode === "local") {
      if (!mayProbe || now() < nextProbeAt) return call(fallback);
      // This call is the probe; the ones arriving meanwhile stay local.
      nextProbeAt = now() + retryIntervalMs;
    }
    try {
      const result = await withTimeout(call(primary), timeoutMs);
      goShared();
      return result;
    } catch (error) {
      goLocal(error);
      return call(fallback);
    }
  }

  return {
    admit: (key: string, limits: KeyLimits, admitOptions?: AdmitOptions): Promise<AdmitResult> =>
      run((limiter) => limiter.admit(key, limits, admitOptions), true),
    chargeTokens: (key: string, tokens: number, limits: KeyLimits): Promise<void> =>
      run((limiter) => limiter.chargeTokens(key, tokens, limits), false),
    mode: () => mode,
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`shared rate limit store did not answer within ${ms} ms`)),
      ms,
    );
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
