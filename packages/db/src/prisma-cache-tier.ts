import type { Prisma, PrismaClient } from "./generated/prisma/client.js";

/** How long the database tier keeps answers, and its clock. */
export interface PrismaCacheTierOptions {
  /** Default time to live: the persistent tier keeps answers long (30 days unless configured). */
  ttlMs?: number;
  now?: () => number;
}

/** A stored answer as the response cache hands it over (`@noa/providers` CacheWrite). */
export interface PrismaCacheWrite {
  scope: string;
  value: object;
  expiresAt: number;
}

/**
 * L3 of the response cache (`@noa/providers` CacheTier, by shape): answers in `cache_entries`, which
 * survive restarts and are shared by every replica. The row's `tenant` is the entry's scope (the
 * tenant, or `*` when the cache is shared), so one tenant's entries can be found and purged. Expired rows
 * are never returned; `deleteExpired` removes them (main.ts runs it periodically).
 */
export function createPrismaCacheTier(
  prisma: PrismaClient,
  { ttlMs = 30 * 24 * 60 * 60_000, now = Date.now }: PrismaCacheTierOptions = {},
) {
  return {
    name: "database" as const,
    defaultTtlMs: ttlMs,
    async get(key: string): Promise<{ value: unknown; expiresAt: number } | undefined> {
      const row = await prisma.cacheEntry.findUnique({
        where: { key },
        select: { value: true, expiresAt: true },
      });
      if (!row || row.expiresAt.getTime() <= now()) return undefined;
      return { value: row.value, expiresAt: row.expiresAt.getTime() };
    },
    async set(key: string, entry: PrismaCacheWrite): Promise<void> {
      const fields = {
        tenant: entry.scope,
        value: entry.value as Prisma.InputJsonObject,
        expiresAt: new Date(entry.expiresAt),
      };
      await prisma.cacheEntry.upsert({
        where: { key },
        create: { key, ...fields, createdAt: new Date(now()) },
        update: { ...fields, createdAt: new Date(now()) },
      });
    },
    /** Deletes the rows that have expired; returns how many. */
    async deleteExpired(): Promise<number> {
      const { count } = await prisma.cacheEntry.deleteMany({
        where: { expiresAt: { lte: new Date(now()) } },
      });
      return count;
    },
  };
}

/** The database tier of the response cache. */
export type PrismaCacheTier = ReturnType<typeof createPrismaCacheTier>;
