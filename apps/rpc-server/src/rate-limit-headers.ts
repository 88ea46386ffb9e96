import type { ServerResponse } from "node:http";
import type { Http2ServerResponse } from "node:http2";

/** The budget a standing is of: the key's request bucket, or its per-minute token budget. */
export type RateLimitBudget = "requests" | "tokens";

/** Where one of the caller's budgets stands, as its `x-ratelimit-*` headers say it. */
export interface RateLimitStanding {
  /** The budget's size: the bucket's capacity (`requestBurst`), or `tokensPerMinute`. */
  limit: number;
  /** What is left of it. */
  remaining: number;
  /** Milliseconds until it is full again; on a refusal, until the next call is admitted. */
  resetMs: number;
}

/** OpenAI's names: https://platform.openai.com/docs/guides/rate-limits#rate-limits-in-headers */
const names = {
  requests: ["x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"],
  tokens: ["x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"],
} as const;

/** Every `x-ratelimit-*` name, for CORS to expose them to browser scripts. */
export const rateLimitHeaderNames: readonly string[] = [...names.requests, ...names.tokens];

/**
 * Puts OpenAI's `x-ratelimit-limit-*`, `-remaining-*` and `-reset-*` headers for `budget` on a response
 * before it is written, or on an RPC's response headers or error metadata: every face spells them alike.
 * The reset is a duration in whole seconds (`12s`), as OpenAI sends it. No object is made on the way:
 * the REST face calls it for every request.
 */
export function setRateLimitHeaders(
  target: ServerResponse | Http2ServerResponse | Headers,
  standing: RateLimitStanding,
  budget: RateLimitBudget = "requests",
): void {
  const [limit, remaining, reset] = names[budget];
  if (target instanceof Headers) {
    target.set(limit, String(standing.limit));
    target.set(remaining, String(standing.remaining));
    target.set(reset, resetText(standing.resetMs));
  } else {
    target.setHeader(limit, String(standing.limit));
    target.setHeader(remaining, String(standing.remaining));
    target.setHeader(reset, resetText(standing.resetMs));
  }
}

/** The same headers as a record, for an error mapper that returns its headers (toOpenAIError). */
export function rateLimitHeaders(
  standing: RateLimitStanding,
  budget: RateLimitBudget = "requests",
): Record<string, string> {
  const [limit, remaining, reset] = names[budget];
  return {
    [limit]: String(standing.limit),
    [remaining]: String(standing.remaining),
    [reset]: resetText(standing.resetMs),
  };
}

function resetText(ms: number): string {
  return `${Math.ceil(ms / 1000)}s`;
}
