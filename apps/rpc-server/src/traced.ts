import type { Authenticator, RateLimiter } from "@noa/access";
import { inSpan } from "@noa/observability";
import type { CacheTier } from "@noa/providers";

/** The authenticator with each authentication in an `auth` span. */
export function tracedAuthenticator(authenticator: Authenticator): Authenticator {
  return {
    ...authenticator,
    authenticate: (headers) => inSpan("auth", {}, () => authenticator.authenticate(headers)),
  };
}

/** The rate limiter with each admission in a `rate-limit admit` span. */
export function tracedRateLimiter(rateLimiter: RateLimiter): RateLimiter {
  return {
    admit: (key, limits) =>
      inSpan("rate-limit admit", {}, async (span) => {
        const result = await rateLimiter.admit(key, limits);
        span.setAttribute("noa.rate_limit.allowed", result.allowed);
        return result;
      }),
    // Charging runs after the answer, off the caller's critical path: no span of its own.
    chargeTokens: (key, tokens, limits) => rateLimiter.chargeTokens(key, tokens, limits),
  };
}

/** A cache tier with each read and write in a `cache <tier> get|set` span (a read says whether it hit). */
export function tracedCacheTier<T extends CacheTier>(tier: T): T {
  return Object.assign(Object.create(tier) as T, {
    get: (key: string) =>
      inSpan(`cache ${tier.name} get`, {}, async (span) => {
        const entry = await tier.get(key);
        span.setAttribute("noa.cache.hit", entry !== undefined);
        return entry;
      }),
    set: (key: string, entry: Parameters<CacheTier["set"]>[1]) =>
      inSpan(`cache ${tier.name} set`, {}, () => tier.set(key, entry)),
  });
}
