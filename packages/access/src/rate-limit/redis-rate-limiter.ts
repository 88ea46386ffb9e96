import type { Cluster, Redis } from "ioredis";
import type { KeyLimits } from "../auth/principal.js";
import type { AdmitOptions, AdmitResult, RateLimitDefaults, RateLimiter } from "./rate-limiter.js";
import { admitScript, chargeScript } from "./redis-rate-limit-scripts.js";
import { resolveKeyLimits, validateRateLimitDefaults } from "./resolve-key-limits.js";

/** Where the shared limiter keeps its state and the limits it applies. */
export interface RedisRateLimiterOptions {
  /** A connected client; the limiter adds two script commands to it and never closes it. */
  redis: Redis | Cluster;
  /**
   * Prepended to every key (`<prefix><key>`); defaults to `rateLimitKeyPrefix("noa")`. Every process
   * that shares the limits (rpc-server replicas, workers) must use the same one.
   */
  prefix?: string;
  defaults: RateLimitDefaults;
  /** For tests only: the clock (ms) passed to the scripts instead of the Redis server's `TIME`. */
  now?: () => number;
}

/**
 * The key prefix of the limits shared under a deployment's Redis prefix (`NOA_JOBS_PREFIX`):
 * `<namespace>:rate-limit:`.
 */
export function rateLimitKeyPrefix(namespace: string): string {
  return `${namespace}:rate-limit:`;
}

// Versioned names: a changed script gets a new command instead of silently replacing a running one.
const ADMIT = "noaRateLimitAdmitV2";
const CHARGE = "noaRateLimitChargeV1";

interface RateLimitCommands {
  [ADMIT](key: string, ...args: (string | number)[]): Promise<[number, number, number]>;
  [CHARGE](key: string, ...args: (string | number)[]): Promise<null>;
}

/**
 * Limits shared by every replica through Redis: one atomic Lua script per operation (EVALSHA), state in one
 * hash per key that expires once idle, time from the Redis server. Rejects when Redis does; wrap it in
 * `createFailoverRateLimiter` to keep limiting while Redis is down.
 */
export function createRedisRateLimiter(options: RedisRateLimiterOptions): RateLimiter {
  const { redis, prefix = rateLimitKeyPrefix("noa"), now } = options;
  const defaults = validateRateLimitDefaults(options.defaults);
  redis.defineCommand(ADMIT, { numberOfKeys: 1, lua: admitScript });
  redis.defineCommand(CHARGE, { numberOfKeys: 1, lua: chargeScript });
  const commands = redis as unknown as RateLimitCommands;
  const clock = () => (now ? String(now()) : "");

  return {
    async admit(key: string, limits: KeyLimits, options: AdmitOptions = {}): Promise<AdmitResult> {
      const { requestBurst, requestsPerSecond, tokensPerMinute } = resolveKeyLimits(limits, defaults);
      const [allowed, a, b] = await commands[ADMIT](
        prefix + key,
        requestBurst,
        requestsPerSecond,
        tokensPerMinute,
        options.checkTokens === false ? "0" : "1",
        clock(),
      );
      if (allowed === 1) return { allowed: true, remaining: a, limit: requestBurst, resetMs: b };
      return b === 2
        ? { allowed: false, retryAfterMs: a, limit: tokensPerMinute, reason: "tokens" }
        : { allowed: false, retryAfterMs: a, limit: requestBurst, reason: "requests" };
    },
    async chargeTokens(key: string, tokens: number, limits: KeyLimits): Promise<void> {
      const { requestBurst, requestsPerSecond, tokensPerMinute } = resolveKeyLimits(limits, defaults);
      if (tokensPerMinute === 0 || !(tokens > 0) || !Number.isFinite(tokens)) return;
      await commands[CHARGE](prefix + key, requestBurst, requestsPerSecond, tokensPerMinute, tokens, clock());
    },
  };
}
