import type { KeyLimits } from "../auth/principal.js";
import type { RateLimitDefaults } from "./rate-limiter.js";

/**
 * A key's effective limits: each field the key leaves undefined (or sets to an unusable value: a burst
 * under 1, a rate not above 0, a negative or non-finite number) takes the default; a `tokensPerMinute`
 * of 0 is kept and means no token limit, as `KeyLimits` documents.
 */
export function resolveKeyLimits(limits: KeyLimits, defaults: RateLimitDefaults): RateLimitDefaults {
  const { requestBurst, requestsPerSecond, tokensPerMinute } = limits;
  return {
    requestBurst: isFiniteAtLeast(requestBurst, 1) ? requestBurst : defaults.requestBurst,
    requestsPerSecond:
      isFiniteAtLeast(requestsPerSecond, 0) && requestsPerSecond > 0
        ? requestsPerSecond
        : defaults.requestsPerSecond,
    tokensPerMinute: isFiniteAtLeast(tokensPerMinute, 0) ? tokensPerMinute : defaults.tokensPerMinute,
  };
}

/** Checks the server's defaults once, at startup, so a bad config stops the start instead of every request. */
export function validateRateLimitDefaults(defaults: RateLimitDefaults): RateLimitDefaults {
  const { requestBurst, requestsPerSecond, tokensPerMinute } = defaults;
  if (!isFiniteAtLeast(requestBurst, 1)) {
    throw new RangeError(`rate limit requestBurst must be a number ≥ 1, got ${requestBurst}`);
  }
  if (!isFiniteAtLeast(requestsPerSecond, 0) || requestsPerSecond === 0) {
    throw new RangeError(`rate limit requestsPerSecond must be a number > 0, got ${requestsPerSecond}`);
  }
  if (!isFiniteAtLeast(tokensPerMinute, 0)) {
    throw new RangeError(`rate limit tokensPerMinute must be a number ≥ 0, got ${tokensPerMinute}`);
  }
  return { requestBurst, requestsPerSecond, tokensPerMinute };
}

function isFiniteAtLeast(value: number | undefined, min: number): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= min;
}
