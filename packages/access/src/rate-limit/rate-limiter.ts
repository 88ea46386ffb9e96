import type { KeyLimits } from "../auth/principal.js";

/** A request let through, with what `X-RateLimit-*` headers need: request tokens left and when the bucket is full again. */
export interface RateLimitAllowed {
  allowed: true;
  /** Whole request tokens left in the bucket after this request. */
  remaining: number;
  /** The bucket's capacity (`requestBurst`). */
  limit: number;
  /** Milliseconds until the bucket is full again. */
  resetMs: number;
}

/** A request refused: RESOURCE_EXHAUSTED / 429 with `Retry-After`; `reason` tells which budget ran out. */
export interface RateLimitRefused {
  allowed: false;
  /** Milliseconds until a retry is admitted (both budgets considered), at least 1. */
  retryAfterMs: number;
  /** The capacity of the budget that refused: `requestBurst` for requests, `tokensPerMinute` for tokens. */
  limit: number;
  reason: "requests" | "tokens";
}

/** The outcome of one admission check. */
export type AdmitResult = RateLimitAllowed | RateLimitRefused;

/** The server's limits, used for every field a key leaves undefined (seed design: 100 burst, 10/s, no token limit). */
export interface RateLimitDefaults {
  /** Request bucket capacity, at least 1. */
  requestBurst: number;
  /** Request bucket refill per second, above 0. */
  requestsPerSecond: number;
  /** Prompt + completion tokens per minute; 0 means no token limit. */
  tokensPerMinute: number;
}

/** How one admission is checked. */
export interface AdmitOptions {
  /**
   * Whether a spent token budget refuses the request (default true): true for calls that run a model
   * (completions, job submissions); false for the others, which spend no tokens but still take a request.
   */
  checkTokens?: boolean;
}

/**
 * Per-key limits on requests (a token bucket) and on tokens (a per-minute budget charged after each
 * response with the real count, which may go negative and then refuses until refilled). Redis-backed for
 * limits shared by every replica, in-memory as the fallback; both keep exactly the same semantics.
 */
export interface RateLimiter {
  /**
   * Takes one request token when the request bucket has one and (unless `checkTokens` is false) the token
   * budget is not negative; a budget in debt stays in debt either way.
   */
  admit(key: string, limits: KeyLimits, options?: AdmitOptions): Promise<AdmitResult>;
  /** Charges a finished request's prompt + completion tokens; a no-op without a token limit or for 0 tokens. */
  chargeTokens(key: string, tokens: number, limits: KeyLimits): Promise<void>;
}
