import { z } from "zod";
import type { CircuitBreakerOptions } from "./circuit-breaker.js";
import { defaultRetryPolicy, type RetryPolicy } from "./with-retry.js";
import type { TimeoutPolicy } from "./with-timeout.js";

const modelId = z.string().regex(/^[^/\s]+\/\S+$/, 'a target is "<provider>/<model>"');
const retry = z
  .object({
    maxAttempts: z.number().int().min(1).max(10),
    baseDelayMs: z.number().int().min(0),
    maxDelayMs: z.number().int().min(0),
    jitter: z.number().min(0).max(1),
    maxRetryDelayMs: z.number().int().min(0),
  })
  .partial()
  .strict();
const timeouts = z
  .object({ firstTokenMs: z.number().int().min(0), totalMs: z.number().int().min(0) })
  .partial()
  .strict();
const route = z.union([
  z.array(modelId).min(1),
  z
    .object({ targets: z.array(modelId).min(1), retry: retry.optional(), timeouts: timeouts.optional() })
    .strict(),
]);
const schema = z
  .object({
    routes: z
      .record(z.string().regex(/^[A-Za-z0-9._-]+$/, "an alias has no '/' or spaces"), route)
      .default({}),
    retry: retry.default({}),
    circuitBreaker: z
      .object({ failureThreshold: z.number().int().min(1), cooldownMs: z.number().int().min(0) })
      .partial()
      .strict()
      .default({}),
    timeouts: timeouts.default({}),
  })
  .strict();

/** One route after defaults: targets in fallback order and the policies of each of its attempts. */
export interface Route {
  targets: string[];
  retry: RetryPolicy;
  timeouts: TimeoutPolicy;
}

/** The routing table and the policies used where a route says nothing (README "Routing"). */
export interface RoutingConfig {
  routes: Record<string, Route>;
  retry: RetryPolicy;
  circuitBreaker: Pick<CircuitBreakerOptions, "failureThreshold" | "cooldownMs">;
  timeouts: TimeoutPolicy;
}

/**
 * Where nothing says otherwise, an attempt waits at most 10 minutes for its first token (for a call that
 * is not streamed: for the answer), the bound the vendor SDKs put on a request, so a stalled upstream
 * never holds a call for ever. No total limit: a long stream may take as long as it flows.
 */
export const defaultTimeouts: TimeoutPolicy = { firstTokenMs: 600_000 };

/** Parses the routing part of NOA_CONFIG; throws an Error listing each bad field by path. */
export function parseRoutingConfig(input: unknown): RoutingConfig {
  const parsed = schema.safeParse(input ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`,
    );
    throw new Error(`invalid routing config: ${problems.join("; ")}`);
  }
  const config = parsed.data;
  const baseRetry = { ...defaultRetryPolicy, ...config.retry };
  const baseTimeouts = { ...defaultTimeouts, ...config.timeouts };
  const routes: Record<string, Route> = {};
  for (const [alias, value] of Object.entries(config.routes)) {
    const entry = Array.isArray(value) ? { targets: value } : value;
    routes[alias] = {
      targets: entry.targets,
      retry: { ...baseRetry, ...("retry" in entry ? entry.retry : {}) },
      timeouts: { ...baseTimeouts, ...("timeouts" in entry ? entry.timeouts : {}) },
    };
  }
  return {
    routes,
    retry: baseRetry,
    circuitBreaker: { failureThreshold: 5, cooldownMs: 60_000, ...config.circuitBreaker },
    timeouts: baseTimeouts,
  };
}
