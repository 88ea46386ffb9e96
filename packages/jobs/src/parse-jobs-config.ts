import type { BackoffPolicy } from "./backoff-delay.js";
import type { CallbackPolicy } from "./webhooks/ssrf-guard.js";

/** Job settings shared by rpc-server and the worker, read from the environment by each composition root. */
export interface JobsConfig {
  /**
   * NOA_JOBS_PREFIX: the start of every Redis key and channel of a deployment (BullMQ queues, the response
   * cache, rate limits, breaker events); deployments (and tests) with different prefixes never meet.
   */
  prefix: string;
  /** NOA_JOB_MAX_ATTEMPTS. */
  maxAttempts: number;
  /** NOA_JOB_BACKOFF_BASE_MS, NOA_JOB_BACKOFF_MAX_MS, NOA_JOB_BACKOFF_JITTER. */
  backoff: BackoffPolicy;
  /** NOA_WEBHOOK_ALLOW_HTTP, NOA_WEBHOOK_ALLOW_LOOPBACK, NOA_WEBHOOK_ALLOW_PRIVATE. */
  callbackPolicy: CallbackPolicy;
  /** NOA_WEBHOOK_MAX_ATTEMPTS, NOA_WEBHOOK_BACKOFF_BASE_MS. */
  webhookRetry: { attempts: number; baseDelayMs: number };
}

/** Parses the job settings; throws an Error naming the variable and what it accepts. */
export function parseJobsConfig(env: Record<string, string | undefined>): JobsConfig {
  const prefix = env.NOA_JOBS_PREFIX || "noa";
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(prefix)) {
    throw new Error(`NOA_JOBS_PREFIX must be 1-64 letters, digits, _ or - (got "${prefix}")`);
  }
  return {
    prefix,
    maxAttempts: integer(env, "NOA_JOB_MAX_ATTEMPTS", 3, 1, 100),
    backoff: {
      baseMs: integer(env, "NOA_JOB_BACKOFF_BASE_MS", 1_000, 0, 3_600_000),
      maxMs: integer(env, "NOA_JOB_BACKOFF_MAX_MS", 300_000, 0, 86_400_000),
      jitter: fraction(env, "NOA_JOB_BACKOFF_JITTER", 0.3),
    },
    callbackPolicy: {
      allowHttp: flag(env, "NOA_WEBHOOK_ALLOW_HTTP"),
      allowLoopback: flag(env, "NOA_WEBHOOK_ALLOW_LOOPBACK"),
      allowPrivate: flag(env, "NOA_WEBHOOK_ALLOW_PRIVATE"),
    },
    webhookRetry: {
      attempts: integer(env, "NOA_WEBHOOK_MAX_ATTEMPTS", 5, 1, 100),
      baseDelayMs: integer(env, "NOA_WEBHOOK_BACKOFF_BASE_MS", 1_000, 0, 3_600_000),
    },
  };
}

/** An integer variable in [min, max], or `fallback` when unset. */
export function integer(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
  }
  return value;
}

function fraction(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!(value >= 0 && value <= 1)) throw new Error(`${name} must be a number from 0 to 1 (got "${raw}")`);
  return value;
}

/** `true`/`1` or `false`/`0`/unset. */
export function flag(env: Record<string, string | undefined>, name: string): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "" || raw === "false" || raw === "0") return false;
  if (raw === "true" || raw === "1") return true;
  throw new Error(`${name} must be true or false (got "${raw}")`);
}
