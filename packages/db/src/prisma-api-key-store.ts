import { AccessError, type ApiKeyRecord, type ApiKeyStore, type Scope } from "@noa/access";
import type { ApiKey, PrismaClient } from "./generated/prisma/client.js";

/** Options of {@link createPrismaApiKeyStore}. */
export interface PrismaApiKeyStoreOptions {
  /** Clock for `createdAt` (epoch ms). Defaults to `Date.now`. */
  now?: () => number;
}

/**
 * {@link ApiKeyStore} over Prisma (`api_keys`). It stores what it is given, the prefix and the hash,
 * and never sees a key. Lists page on the creation sequence (`seq`), which is also the cursor, so
 * pages stay stable while keys are added.
 */
export function createPrismaApiKeyStore(
  prisma: PrismaClient,
  options: PrismaApiKeyStoreOptions = {},
): ApiKeyStore {
  const now = options.now ?? Date.now;
  return {
    async create(input) {
      const row = await prisma.apiKey.create({
        data: {
          id: input.id,
          name: input.name,
          prefix: input.prefix,
          hash: input.hash,
          tenant: input.tenant,
          scopes: input.scopes,
          allowedModels: input.allowedModels,
          requestBurst: input.limits.requestBurst ?? null,
          requestsPerSecond: input.limits.requestsPerSecond ?? null,
          tokensPerMinute: input.limits.tokensPerMinute ?? null,
          createdAt: new Date(now()),
          expiresAt: input.expiresAt ?? null,
        },
      });
      return toRecord(row);
    },

    async findByPrefix(prefix) {
      const row = await prisma.apiKey.findUnique({ where: { prefix } });
      return row === null ? undefined : toRecord(row);
    },

    async list({ tenant, includeRevoked, limit, cursor }) {
      const rows = await prisma.apiKey.findMany({
        where: {
          ...(tenant === undefined ? {} : { tenant }),
          ...(includeRevoked ? {} : { revokedAt: null }),
          ...(cursor === undefined ? {} : { seq: { lt: parseCursor(cursor) } }),
        },
        orderBy: { seq: "desc" },
        // One more than asked tells whether another page follows.
        take: limit + 1,
      });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        keys: page.map(toRecord),
        nextCursor: rows.length > limit && last ? String(last.seq) : undefined,
      };
    },

    async revoke(id, at) {
      // Only an unrevoked key changes, so the first revocation time is kept.
      await prisma.apiKey.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: at } });
      const row = await prisma.apiKey.findUnique({ where: { id } });
      return row === null ? undefined : toRecord(row);
    },

    async touch(id, at) {
      await prisma.apiKey.updateMany({ where: { id }, data: { lastUsedAt: at } });
    },

    async hasActiveAdmin(at) {
      const admin = await prisma.apiKey.findFirst({
        where: {
          revokedAt: null,
          OR: [{ expiresAt: null }, { expiresAt: { gt: at } }],
          scopes: { has: "admin" satisfies Scope },
        },
        select: { id: true },
      });
      return admin !== null;
    },
  };
}

function parseCursor(cursor: string): bigint {
  if (!/^[0-9]{1,19}$/.test(cursor)) {
    throw new AccessError("invalid-argument", "the page cursor is not one this server issued");
  }
  return BigInt(cursor);
}

function toRecord(row: ApiKey): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    hash: row.hash,
    tenant: row.tenant,
    // Written only by `create`, from validated scopes.
    scopes: row.scopes as Scope[],
    allowedModels: row.allowedModels,
    limits: {
      ...(row.requestBurst === null ? {} : { requestBurst: row.requestBurst }),
      ...(row.requestsPerSecond === null ? {} : { requestsPerSecond: row.requestsPerSecond }),
      ...(row.tokensPerMinute === null ? {} : { tokensPerMinute: row.tokensPerMinute }),
    },
    createdAt: row.createdAt,
    lastUsedAt: row.lastUsedAt ?? undefined,
    revokedAt: row.revokedAt ?? undefined,
    expiresAt: row.expiresAt ?? undefined,
  };
}
