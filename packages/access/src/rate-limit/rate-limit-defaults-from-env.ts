import type { RateLimitDefaults } from "./rate-limiter.js";

/**
 * The server's rate-limit defaults from NOA_RATE_LIMIT_BURST (default 100), NOA_RATE_LIMIT_PER_SECOND
 * (10) and NOA_TOKENS_PER_MINUTE (0: no token limit), as rpc-server admits calls with them and the worker
 * charges jobs' tokens with them: both must read the same values. Throws an error naming the variable.
 */
export function rateLimitDefaultsFromEnv(env: NodeJS.ProcessEnv): RateLimitDefaults {
  return {
    requestBurst: read(env, "NOA_RATE_LIMIT_BURST", 100, { integer: true, min: 1, max: 1_000_000 }),
    requestsPerSecond: read(env, "NOA_RATE_LIMIT_PER_SECOND", 10, { integer: false, min: 0, max: Infinity }),
    tokensPerMinute: read(env, "NOA_TOKENS_PER_MINUTE", 0, { integer: true, min: 0, max: 1_000_000_000 }),
  };
}

function read(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  range: { integer: boolean; min: number; max: number },
): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (range.integer && (!Number.isInteger(value) || value < range.min || value > range.max)) {
    throw new Error(`${name} must be an integer from ${range.min} to ${range.max} (got "${raw}")`);
  }
  if (!range.integer && (!(value > range.min) || !Number.isFinite(value))) {
    throw new Error(`${name} must be a number above ${range.min} (got "${raw}")`);
  }
  return value;
}
