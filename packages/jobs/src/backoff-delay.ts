/** Exponential backoff with jitter (seed design: base 1 s, +≤30 % jitter, cap 5 min). */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
  /** Up to this fraction is added at random, so retries of many jobs do not arrive together. */
  jitter: number;
}

/** The seed design's job retry policy. */
export const defaultJobBackoff: BackoffPolicy = { baseMs: 1_000, maxMs: 300_000, jitter: 0.3 };

/** The wait after failed attempt number `attempt` (1-based): base·2^(attempt−1), plus jitter, at most `maxMs`. */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const exponential = policy.baseMs * 2 ** Math.max(0, attempt - 1);
  return Math.round(Math.min(policy.maxMs, exponential * (1 + policy.jitter * random())));
}
