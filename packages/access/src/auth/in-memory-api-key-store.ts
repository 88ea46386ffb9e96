import { AccessError } from "./access-error.js";
import type { ApiKeyRecord, ApiKeyStore } from "./api-key-store.js";

/** Options of {@link createInMemoryApiKeyStore}. */
export interface InMemoryApiKeyStoreOptions {
  /** Clock for `createdAt` (epoch ms). */
  now?: () => number;
}

/**
 * An {@link ApiKeyStore} in a Map: for unit tests and as the reference the Prisma store is checked against
 * (both pass `describeApiKeyStoreContract`). Records are copied in and out, as a database would.
 */
export function createInMemoryApiKeyStore(options: InMemoryApiKeyStoreOptions = {}): ApiKeyStore {
  const now = options.now ?? Date.now;
  // Insertion order is creation order; `seq` is the list cursor, so pages stay stable while keys are added.
  const byId = new Map<string, { seq: number; record: ApiKeyRecord }>();
  const idByPrefix = new Map<string, string>();
  let nextSeq = 1;

  return {
    async create(input) {
      if (idByPrefix.has(input.prefix))
        throw new Error(`an API key with prefix ${input.prefix} already exists`);
      if (byId.has(input.id)) throw new Error(`an API key with id ${input.id} already exists`);
      const record = copy({
        ...input,
        createdAt: new Date(now()),
        lastUsedAt: undefined,
        revokedAt: undefined,
        expiresAt: input.expiresAt,
      });
      byId.set(record.id, { seq: nextSeq++, record });
      idByPrefix.set(record.prefix, record.id);
      return copy(record);
    },

    async findByPrefix(prefix) {
      const id = idByPrefix.get(prefix);
      const entry = id === undefined ? undefined : byId.get(id);
      return entry && copy(entry.record);
    },

    async list({ tenant, includeRevoked, limit, cursor }) {
      const after = cursor === undefined ? Number.POSITIVE_INFINITY : Number(cursor);
      if (!Number.isSafeInteger(after) && after !== Number.POSITIVE_INFINITY) {
        throw new AccessError("invalid-argument", "the page cursor is not one this server issued");
      }
      const matching = [...byId.values()].reverse().filter(({ seq, record }) => {
        if (seq >= after) return false;
        if (tenant !== undefined && record.tenant !== tenant) return false;
        return includeRevoked || record.revokedAt === undefined;
      });
      const page = matching.slice(0, limit);
      const last = page.at(-1);
      return {
        keys: page.map(({ record }) => copy(record)),
        nextCursor: matching.length > limit && last ? String(last.seq) : undefined,
      };
    },

    async revoke(id, at) {
      const entry = byId.get(id);
      if (!entry) return undefined;
      entry.record.revokedAt ??= new Date(at);
      return copy(entry.record);
    },

    async touch(id, at) {
      const entry = byId.get(id);
      if (entry) entry.record.lastUsedAt = new Date(at);
    },

    async hasActiveAdmin(at) {
      for (const { record } of byId.values()) {
        const expired = record.expiresAt !== undefined && record.expiresAt <= at;
        if (record.revokedAt === undefined && !expired && record.scopes.includes("admin")) return true;
      }
      return false;
    },
  };
}

function copy(record: ApiKeyRecord): ApiKeyRecord {
  return {
    ...record,
    scopes: [...record.scopes],
    allowedModels: [...record.allowedModels],
    limits: { ...record.limits },
    createdAt: new Date(record.createdAt),
    lastUsedAt: record.lastUsedAt && new Date(record.lastUsedAt),
    revokedAt: record.revokedAt && new Date(record.revokedAt),
    expiresAt: record.expiresAt && new Date(record.expiresAt),
  };
}
