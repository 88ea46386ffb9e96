import type { CacheTierEvent, CallOptions } from "../language-model.js";
import type { Logger } from "../logger.js";
import { type CacheIdentity, cacheKey, isRepeatable } from "./cache-key.js";
import { type CachedAnswer, type CacheTier, type CacheTierName, parseCachedAnswer } from "./cache-tier.js";

/** The tiers and policies of a response cache. */
export interface ResponseCacheOptions {
  /** Fastest first, e.g. memory → Redis → database; each is optional. */
  tiers: CacheTier[];
  logger?: Logger;
  now?: () => number;
  /** A tier read that takes longer is given up (the request goes on to the next tier). Default 500 ms. */
  tierTimeoutMs?: number;
  /** After a tier fails it is left alone for this long, so a dead Redis costs nothing per request. Default 5 s. */
  tierCooldownMs?: number;
  /** A background write that takes longer counts as a failure (and no longer holds up `settled`). Default 5 s. */
  writeTimeoutMs?: number;
}

/** What the cache does for one call, decided once from its options. */
export interface CachePlan {
  key: string;
  scope: string;
  /** False for `refresh`: go to the provider, then store. */
  read: boolean;
  /** False when the call's TTL is 0. */
  write: boolean;
  /** The call's TTL; undefined means each tier's default. */
  ttlMs: number | undefined;
  /** The call's onCacheTier: told of each tier read and write made for it. */
  observe?: ((event: CacheTierEvent) => void) | undefined;
}

/** A stored answer found, and the tier it came from. */
export interface CacheHit {
  answer: CachedAnswer;
  tier: CacheTierName;
}

/** The multi-tier response cache that withCache reads and fills. */
export interface ResponseCache {
  readonly tiers: readonly CacheTier[];
  /** The call's plan; undefined when the cache stays out of it (`skip`, or not repeatable without `force`). */
  plan(identity: CacheIdentity, options: CallOptions): CachePlan | undefined;
  /** Reads the tiers in order; a hit is copied into the faster tiers that missed it. */
  lookup(plan: CachePlan): Promise<CacheHit | undefined>;
  /** Whether an in-process tier holds the answer right now (no I/O): such a call needs no coalescing. */
  holds(plan: CachePlan): boolean;
  /** Stores an answer (stamped now) in every tier: the memory tier at once, the others in the background. */
  store(plan: CachePlan, answer: Omit<CachedAnswer, "createdAt">): void;
  /** Resolves once the background writes started so far are done (tests, shutdown). */
  settled(): Promise<void>;
}

/**
 * Reads tiers fastest first and fills the faster ones on the way back (a backfilled copy never outlives
 * the entry nor its tier's default TTL). A tier that throws or is slow is skipped and logged — once when
 * it starts failing, once when it answers again — and never fails a request.
 */
export function createResponseCache({
  tiers,
  logger,
  now = Date.now,
  tierTimeoutMs = 500,
  tierCooldownMs = 5_000,
  writeTimeoutMs = 5_000,
}: ResponseCacheOptions): ResponseCache {
  const health = new Map(tiers.map((tier) => [tier, { failing: false, skipUntil: 0 }]));
  const pending = new Set<Promise<void>>();

  const available = (tier: CacheTier) => (health.get(tier)?.skipUntil ?? 0) <= now();
  const failed = (tier: CacheTier, error: unknown, operation: "read" | "write") => {
    const state = health.get(tier);
    if (!state) return;
    state.skipUntil = now() + tierCooldownMs;
    if (state.failing) return;
    state.failing = true;
    // The first line only: some drivers' messages go on to quote the query's arguments (prompts, answers).
    const message = (error instanceof Error ? error.message : String(error)).split("\n")[0]?.slice(0, 200);
    logger?.warn(
      { tier: tier.name, operation, error: message, cooldownMs: tierCooldownMs },
      "cache tier failed; skipping it",
    );
  };
  const succeeded = (tier: CacheTier) => {
    const state = health.get(tier);
    if (!state?.failing) return;
    state.failing = false;
    logger?.info({ tier: tier.name }, "cache tier answers again");
  };

  const write = (tier: CacheTier, plan: CachePlan, entry: Parameters<CacheTier["set"]>[1]) => {
    if (!available(tier)) return;
    const { observe } = plan;
    const started = observe ? performance.now() : 0;
    const report = (error?: unknown) =>
      observe?.({ tier: tier.name, operation: "set", durationMs: performance.now() - started, error });
    let done: Promise<void>;
    try {
      const written = tier.set(plan.key, entry);
      done = (tier.has ? written : withinDeadline(written, writeTimeoutMs)).then(
        () => {
          succeeded(tier);
          report();
        },
        (error: unknown) => {
          failed(tier, error, "write");
          report(error);
        },
      );
    } catch (error) {
      failed(tier, error, "write");
      report(error);
      return;
    }
    pending.add(done);
    void done.finally(() => pending.delete(done));
  };

  async function read(tier: CacheTier, { key, observe }: CachePlan) {
    const started = observe ? performance.now() : 0;
    try {
      // An in-process tier answers at once: no timer to arm.
      const found = tier.has ? await tier.get(key) : await withinDeadline(tier.get(key), tierTimeoutMs);
      succeeded(tier);
      observe?.({
        tier: tier.name,
        operation: "get",
        durationMs: performance.now() - started,
        hit: found !== undefined,
      });
      return found;
    } catch (error) {
      failed(tier, error, "read");
      observe?.({ tier: tier.name, operation: "get", durationMs: performance.now() - started, error });
      return undefined;
    }
  }

  return {
    tiers,
    plan(identity, options) {
      const { mode = "default", ttlSeconds, scope = "" } = options.cache ?? {};
      if (mode === "skip" || (mode === "default" && !isRepeatable(options))) return undefined;
      const ttlMs = ttlSeconds === undefined ? undefined : ttlSeconds * 1000;
      return {
        key: cacheKey(identity, options, scope),
        scope,
        read: mode !== "refresh",
        write: ttlMs !== 0,
        ttlMs,
        observe: options.onCacheTier,
      };
    },

    holds(plan) {
      return tiers.some((tier) => tier.has !== undefined && available(tier) && tier.has(plan.key));
    },

    async lookup(plan) {
      for (const [index, tier] of tiers.entries()) {
        if (!available(tier)) continue;
        const found = await read(tier, plan);
        if (!found) continue;
        const answer = parseCachedAnswer(found.value);
        if (!answer) {
          logger?.warn({ tier: tier.name }, "cache entry of an unknown shape ignored");
          continue;
        }
        for (const faster of tiers.slice(0, index)) {
          const expiresAt = Math.min(found.expiresAt, now() + faster.defaultTtlMs);
          write(faster, plan, { scope: plan.scope, value: answer, expiresAt });
        }
        return { answer, tier: tier.name };
      }
      return undefined;
    },

    store(plan, answer) {
      if (!plan.write) return;
      const at = now();
      const value = { ...answer, createdAt: at };
      for (const tier of tiers) {
        write(tier, plan, {
          scope: plan.scope,
          value,
          expiresAt: at + (plan.ttlMs ?? tier.defaultTtlMs),
        });
      }
    },

    async settled() {
      while (pending.size > 0) await Promise.all(pending);
    },
  };
}

/** The promise's outcome, or a rejection once `ms` have passed without one. */
async function withinDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
