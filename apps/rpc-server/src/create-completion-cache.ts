import { createPrismaCacheTier, type PrismaCacheTier, type PrismaClient } from "@noa/db";
import {
  type CacheTier,
  createInFlightTable,
  createMemoryCacheTier,
  createRedisCacheTier,
  createResponseCache,
  type MemoryCacheTier,
} from "@noa/providers";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { CompletionCacheDeps } from "./completion-service.js";
import type { CacheConfig } from "./config.js";

/** What the cache is built over; each store is used only when its tier is configured. */
export interface CompletionCacheOptions {
  config: CacheConfig;
  redis: Redis;
  prisma: PrismaClient;
  /** The routing table's targets of a model id or alias (part of every key). */
  targetsOf: (model: string) => readonly string[];
  logger: Logger;
  /** Key prefix in Redis; tests give each their own. */
  redisPrefix?: string;
  now?: () => number;
  /** How often expired database rows are deleted. Default hourly. */
  cleanupIntervalMs?: number;
}

/**
 * The response cache as NOA_CACHE_* configures it: memory (L1), Redis (L2), database (L3), in that
 * order, each optional, plus the table of calls in flight for coalescing. Redis being down at start is
 * not an error: its tier is skipped (and logged) until it answers. Expired database rows are deleted
 * periodically. Undefined `deps` when there is neither a tier nor coalescing.
 */
export function createCompletionCache({
  config,
  redis,
  prisma,
  targetsOf,
  logger,
  redisPrefix,
  now = Date.now,
  cleanupIntervalMs = 60 * 60_000,
}: CompletionCacheOptions): {
  deps: CompletionCacheDeps | undefined;
  memory: MemoryCacheTier | undefined;
  database: PrismaCacheTier | undefined;
  close(): Promise<void>;
} {
  const log = logger.child({ component: "cache" });
  const memory = config.tiers.includes("memory")
    ? createMemoryCacheTier({
        ttlMs: config.memoryTtlMs,
        maxEntries: config.memoryMaxEntries,
        maxBytes: config.memoryMaxBytes,
        now,
      })
    : undefined;
  const database = config.tiers.includes("database")
    ? createPrismaCacheTier(prisma, { ttlMs: config.databaseTtlMs, now })
    : undefined;
  const tiers: CacheTier[] = [];
  if (memory) tiers.push(memory);
  if (config.tiers.includes("redis")) {
    tiers.push(createRedisCacheTier({ redis, prefix: redisPrefix, ttlMs: config.redisTtlMs, now }));
  }
  if (database) tiers.push(database);
  if (tiers.length === 0 && !config.coalesce) {
    return { deps: undefined, memory, database, close: async () => {} };
  }
  const responses = createResponseCache({ tiers, logger: log, now, tierTimeoutMs: config.tierTimeoutMs });
  const cleanup =
    database &&
    setInterval(() => {
      database.deleteExpired().then(
        (count) => {
          if (count > 0) log.info({ count }, "expired cache entries deleted");
        },
        (error: unknown) =>
          log.warn({ error: (error as Error).message?.split("\n")[0] }, "cache cleanup failed"),
      );
    }, cleanupIntervalMs).unref();
  log.info({ tiers: config.tiers, shared: config.shared, coalesce: config.coalesce }, "response cache");
  return {
    deps: {
      responses,
      inFlight: config.coalesce ? createInFlightTable() : undefined,
      shared: config.shared,
      targetsOf,
    },
    memory,
    database,
    async close() {
      clearInterval(cleanup);
      await responses.settled();
    },
  };
}
