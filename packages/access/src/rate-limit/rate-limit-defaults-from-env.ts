import type { RateLimitDefaults } from "./rate-limiter.js";

/**
 * The server's rate-limit defaults from NOA_RATE_LIMIT_BURST (default 100), NOA_RATE_LIMIT_PER_SECOND
 * (10) and NOA_TOKENS_PER_MINUTE (0: no token limit), as rpc-server admits calls with them and the worker
 * charges jobs' tokens with them: both must read the same values. Throws an error naming the variable.
 */
export function rateLimitDefaultsFromEnv(env: NodeJS.ProcessEnv): RateLimitDefaults {
  return {
    requestBurst: integer(env, "NOA_RATE_LIMIT_BURST", 100, 1, 1_000_000),
    requestsPerSecond: positive(env, "NOA_RATE_LIMIT_PER_SECOND", 10),
    tokensPerMinute: integer(env, "NOA_TOKENS_PER_MINUTE", 0, 0, 1_000_000_000),
  };
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
  }
  return value;
}

function positive(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!(value > 0) || !Number.isFinite(value))
    throw new Error(`${name} must be a number above 0 (got "${raw}")`);
  return value;
}
