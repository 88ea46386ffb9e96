import type { Authenticator, Principal, RateLimiter } from "@noa/access";
import { type Context, inSpan, recordSpan, tracesUnder } from "@noa/observability";
import type { CacheTierEvent } from "@noa/providers";

/** Authenticates a call's credentials in an `auth` span under `parent`. */
export function authenticateInSpan(
  authenticator: Authenticator,
  headers: Parameters<Authenticator["authenticate"]>[0],
  parent: Context,
): Promise<Principal> {
  return inSpan("auth", { parent }, () => authenticator.authenticate(headers));
}

/** Admits a call against a rate limit in a `rate-limit admit` span under `parent`. */
export function admitInSpan(
  rateLimiter: RateLimiter,
  key: string,
  limits: Parameters<RateLimiter["admit"]>[1],
  options: Parameters<RateLimiter["admit"]>[2],
  parent: Context,
): ReturnType<RateLimiter["admit"]> {
  return inSpan("rate-limit admit", { parent }, async (span) => {
    const result = await rateLimiter.admit(key, limits, options);
    span.setAttribute("noa.rate_limit.allowed", result.allowed);
    return result;
  });
}

/**
 * A call's onCacheTier that puts each tier read and write in a `cache <tier> get|set` span under
 * `parent` (a read says whether it hit); undefined when `parent` holds no sampled span, so an untraced
 * call does not time its cache operations at all.
 */
export function cacheTierSpans(parent: Context): ((event: CacheTierEvent) => void) | undefined {
  if (!tracesUnder(parent)) return undefined;
  return (event) =>
    recordSpan(`cache ${event.tier} ${event.operation}`, {
      parent,
      durationMs: event.durationMs,
      attributes: event.hit === undefined ? {} : { "noa.cache.hit": event.hit },
      error: event.error,
    });
}
