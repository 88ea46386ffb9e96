import type { Redis } from "ioredis";
import type { CacheTier } from "./cache-tier.js";

/** Where and how long the shared tier keeps answers. */
export interface RedisCacheTierOptions {
  redis: Redis;
  /** Prefix of every key, so deployments (and tests) sharing a Redis never collide. */
  prefix?: string;
  /** Default time to live (seed design: 1 hour). */
  ttlMs?: number;
  now?: () => number;
}

/**
 * L2: answers in Redis, shared by every replica, as JSON `{ e: expiresAt, v: answer }` with Redis's own
 * expiry (PX), so the store cleans itself. The stored expiry is checked on read too, so a replica's
 * clock (or a test's) is honoured and a backfilled tier never outlives the entry.
 */
export function createRedisCacheTier({
  redis,
  prefix = "noa:cache:",
  ttlMs = 60 * 60_000,
  now = Date.now,
}: RedisCacheTierOptions): CacheTier {
  return {
    name: "redis",
    defaultTtlMs: ttlMs,
    async get(key) {
      const text = await redis.get(prefix + key);
      if (text === null) return undefined;
      const stored = JSON.parse(text) as { e?: unknown; v?: unknown };
      if (typeof stored.e !== "number" || stored.e <= now()) return undefined;
      return { value: stored.v, expiresAt: stored.e };
    },
    async set(key, entry) {
      const ms = Math.ceil(entry.expiresAt - now());
      if (ms <= 0) return;
      await redis.set(prefix + key, JSON.stringify({ e: entry.expiresAt, v: entry.value }), "PX", ms);
    },
  };
}
