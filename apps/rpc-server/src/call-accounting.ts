import { randomUUID } from "node:crypto";
import type { Principal, RateLimitAllowed, RateLimiter, UsageRecord } from "@noa/access";
import type { Context } from "@noa/observability";
import type { Usage } from "@noa/providers";
import type { Logger } from "pino";
import { RateLimitExceededError } from "./rate-limit-exceeded-error.js";
import { admitInSpan } from "./traced.js";

/** Everything that accounts for a call: limits before it, the ledger and token budget after it. */
export interface AccountingDeps {
  rateLimiter: RateLimiter;
  ledger: { record(record: UsageRecord): void };
  prices: { costOf(model: string, usage: Usage): number };
  logger: Logger;
}

/** How a call ended, as the ledger records it. */
export interface CallOutcome {
  status: UsageRecord["status"];
  errorCode?: string;
  /** The tokens actually used and delivered (partial for cut or cancelled streams). */
  usage: Usage;
  /** `<provider>/<model>` that served, when one did (for a cached answer: that first produced it). */
  servedBy: string | undefined;
  /** The cache tier (or `coalesced`) that answered instead of a provider: the call costs 0. */
  cacheTier?: string | undefined;
}

/**
 * The caller's rate-limit key: `key:<id>` for an API key, `jwt:<tenant>:<sub>` for a token (two identity
 * providers' tenants may both have a `user-1`). The tenant is URI-encoded, so its `:` cannot shift the split.
 */
export function limitKeyOf(principal: Principal): string {
  return principal.kind === "jwt"
    ? `jwt:${encodeURIComponent(principal.tenant)}:${principal.id}`
    : `${principal.kind}:${principal.id}`;
}

/**
 * Takes one request from the caller's bucket, or throws RESOURCE_EXHAUSTED (RateLimitExceededError, with
 * the retry delay) when the bucket is empty or, for a call that runs a model (`checkTokens`: a completion, a
 * job submission), when the key's token budget is spent. Each face calls it once per authenticated call,
 * right after authentication, so every call counts, even one refused later; the admission it returns is
 * what the call's `x-ratelimit-*` headers say (setRateLimitHeaders).
 */
export async function admitCall(
  rateLimiter: RateLimiter,
  principal: Principal,
  traceContext: Context,
  options: { checkTokens: boolean },
): Promise<RateLimitAllowed> {
  const verdict = await admitInSpan(
    rateLimiter,
    limitKeyOf(principal),
    principal.limits,
    options,
    traceContext,
  );
  if (!verdict.allowed) throw new RateLimitExceededError(verdict);
  return verdict;
}

/**
 * Begins the accounting of a call its face has admitted (`admitted`: admitCall's proof, with `checkTokens`; no
 * second check) and returns `settle`, which prices the call, writes its usage record (off the request path)
 * and charges its real token count to the caller's token budget. `settle` runs exactly once per call.
 * A call the cache answered is recorded with its tokens and tier, costs 0 and charges no token budget
 * (no provider spent them); it was still admitted against the request rate.
 */
export function beginCall(
  deps: AccountingDeps,
  call: { principal: Principal; modelRequested: string; correlationId: string; admitted: RateLimitAllowed },
): { settle(outcome: CallOutcome): number } {
  const { principal } = call;
  const limitKey = limitKeyOf(principal);
  const id = randomUUID();
  const started = performance.now();
  const createdAt = new Date();
  let settled = false;
  return {
    settle({ status, errorCode, usage, servedBy, cacheTier }) {
      if (settled) return 0;
      settled = true;
      const cached = cacheTier !== undefined;
      const costUsd = servedBy && !cached ? deps.prices.costOf(servedBy, usage) : 0;
      deps.ledger.record({
        id,
        apiKeyId: principal.kind === "key" ? principal.id : undefined,
        tenant: principal.tenant,
        modelRequested: call.modelRequested,
        provider: servedBy?.slice(0, servedBy.indexOf("/")),
        modelServed: servedBy,
        promptTokens: usage.promptTokens,
        completionTokens: usage.completionTokens,
        costUsd,
        cached,
        cacheTier,
        status,
        errorCode,
        latencyMs: Math.round(performance.now() - started),
        correlationId: call.correlationId,
        createdAt,
      });
      const tokens = usage.promptTokens + usage.completionTokens;
      if (tokens > 0 && !cached) {
        deps.rateLimiter.chargeTokens(limitKey, tokens, principal.limits).catch((error: unknown) => {
          deps.logger.warn({ err: error, correlationId: call.correlationId }, "token budget charge failed");
        });
      }
      return costUsd;
    },
  };
}
