import type { KeyLimits } from "../auth/principal.js";
import type { AdmitOptions, AdmitResult, RateLimitDefaults, RateLimiter } from "./rate-limiter.js";
import { resolveKeyLimits, validateRateLimitDefaults } from "./resolve-key-limits.js";

/** The in-memory limiter's limits, clock and bound. */
export interface LocalRateLimiterOptions {
  defaults: RateLimitDefaults;
  /** Keys tracked at most; the least recently used is forgotten (reset to full) beyond it. Defaults to 10 000. */
  maxKeys?: number;
  /** Milliseconds from any fixed origin; defaults to `performance.now()` (monotonic). */
  now?: () => number;
}

/** One key's buckets; undefined fields mean "full", as a missing Redis hash field does. */
interface BucketState {
  r: number;
  rt: number;
  t: number | undefined;
  tt: number | undefined;
}

/**
 * The same limits as `createRedisRateLimiter`, held in this process only (a bounded, LRU-evicted map): the
 * limiter of a replica that cannot reach Redis, where each replica then limits on its own. The arithmetic
 * mirrors the Lua in `redis-rate-limit-scripts.ts` expression for expression.
 */
export function createLocalRateLimiter(options: LocalRateLimiterOptions): RateLimiter {
  const { maxKeys = 10_000, now = () => performance.now() } = options;
  const defaults = validateRateLimitDefaults(options.defaults);
  if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError(`maxKeys must be an integer ≥ 1`);
  // A Map iterates in insertion order: deleting and re-inserting on each use keeps the least recent first.
  const buckets = new Map<string, BucketState>();

  function take(key: string): BucketState | undefined {
    const state = buckets.get(key);
    if (state) buckets.delete(key);
    return state;
  }

  function put(key: string, state: BucketState): void {
    buckets.set(key, state);
    if (buckets.size > maxKeys) {
      const oldest = buckets.keys().next().value;
      if (oldest !== undefined) buckets.delete(oldest);
    }
  }

  return {
    async admit(key: string, limits: KeyLimits, options: AdmitOptions = {}): Promise<AdmitResult> {
      const {
        requestBurst: burst,
        requestsPerSecond: rps,
        tokensPerMinute: tpm,
      } = resolveKeyLimits(limits, defaults);
      const at = now();
      const state = take(key);
      let r = state?.r ?? burst;
      const rt = state?.rt ?? at;
      r = Math.min(burst, r + (Math.max(0, at - rt) * rps) / 1000);
      let t = 0;
      let tokenWait = 0;
      if (tpm > 0) {
        t = state?.t ?? tpm;
        const tt = state?.tt ?? at;
        t = Math.min(tpm, t + (Math.max(0, at - tt) * tpm) / 60000);
        if (t < 0 && options.checkTokens !== false) tokenWait = Math.ceil((-t * 60000) / tpm);
      }
      let requestWait = 0;
      if (r < 1) requestWait = Math.ceil(((1 - r) * 1000) / rps);
      if (tokenWait > 0 || requestWait > 0) {
        // Refused: the stored state still describes the buckets exactly (refill is a function of time).
        if (state) put(key, state);
        return tokenWait >= requestWait
          ? { allowed: false, retryAfterMs: tokenWait, limit: tpm, reason: "tokens" }
          : { allowed: false, retryAfterMs: requestWait, limit: burst, reason: "requests" };
      }
      r = r - 1;
      const resetMs = Math.ceil(((burst - r) * 1000) / rps);
      put(key, tpm > 0 ? { r, rt: at, t, tt: at } : { r, rt: at, t: state?.t, tt: state?.tt });
      return { allowed: true, remaining: Math.floor(r), limit: burst, resetMs };
    },
    async chargeTokens(key: string, tokens: number, limits: KeyLimits): Promise<void> {
      const { requestBurst: burst, tokensPerMinute: tpm } = resolveKeyLimits(limits, defaults);
      if (tpm === 0 || !(tokens > 0) || !Number.isFinite(tokens)) return;
      const at = now();
      const state = take(key);
      let t = state?.t ?? tpm;
      const tt = state?.tt ?? at;
      t = Math.min(tpm, t + (Math.max(0, at - tt) * tpm) / 60000) - tokens;
      put(key, { r: state?.r ?? burst, rt: state?.rt ?? at, t, tt: at });
    },
  };
}
