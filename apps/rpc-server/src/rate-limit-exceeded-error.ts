import { AccessError, type RateLimitRefused } from "@noa/access";
import type { RateLimitBudget, RateLimitStanding } from "./rate-limit-headers.js";

/**
 * RESOURCE_EXHAUSTED from admitCall: the caller's request bucket, or its token budget, is spent. Beside the
 * retry delay every face sends, it keeps which budget refused and its size, so that the refusal's
 * `x-ratelimit-*` headers say where that budget stands: nothing left, and the next call admitted after the
 * retry delay.
 */
export class RateLimitExceededError extends AccessError {
  readonly budget: RateLimitBudget;
  readonly standing: RateLimitStanding;

  constructor(refused: RateLimitRefused) {
    const seconds = Math.ceil(refused.retryAfterMs / 1000);
    super(
      "resource-exhausted",
      `${refused.reason === "tokens" ? "token" : "request"} rate limit of this key reached; retry in ${seconds} s`,
      { retryAfterMs: refused.retryAfterMs },
    );
    this.name = "RateLimitExceededError";
    this.budget = refused.reason;
    this.standing = { limit: refused.limit, remaining: 0, resetMs: refused.retryAfterMs };
  }
}
