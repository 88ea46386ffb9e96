import { randomUUID, timingSafeEqual } from "node:crypto";
import { AccessError } from "./access-error.js";
import type { ApiKeyRecord, ApiKeyStore } from "./api-key-store.js";
import { generateApiKey, hashApiKey, parseApiKey } from "./generate-api-key.js";
import type { Logger } from "./logger.js";
import { allScopes, type KeyLimits, type Principal, type Scope } from "./principal.js";
import { withinCreator } from "./within-creator.js";

/** What a caller asks for when creating a key; strings as they come off the wire, validated here. */
export interface CreateApiKeyInput {
  name: string;
  tenant: string;
  /** At least one of {@link allScopes}. */
  scopes: readonly string[];
  /** Model ids or aliases (or `<provider>/*`); empty or absent means all. */
  allowedModels?: readonly string[];
  limits?: KeyLimits;
  /**
   * When the key stops working; must be a valid time in the future. Absent: never (refused when the creator
   * itself expires: withinCreator).
   */
  expiresAt?: Date;
  /**
   * Who mints the key (the RPC's caller): the key may not exceed it (withinCreator). Absent only for keys
   * the server makes itself (tests, fixtures); the caller still checks `admin` first.
   */
  creator?: Principal;
}

/** Which keys to list; absent or zero fields take the defaults (active keys only, 50 a page). */
export interface ListApiKeysFilter {
  tenant?: string;
  includeRevoked?: boolean;
  /** 1–500; 0 or absent means 50, larger values are lowered to 500 (AIP-158), as ListApiKeysRequest.page_size says. */
  limit?: number;
  cursor?: string;
}

/** A new key: `key` is the only time the secret exists outside its owner's hands. */
export interface CreatedApiKey {
  record: ApiKeyRecord;
  key: string;
}

/**
 * The domain logic behind the ApiKeyService RPCs (no transport; callers check `admin`, `create` keeps a new
 * key within its creator's bounds).
 */
export interface ApiKeyService {
  create(input: CreateApiKeyInput): Promise<CreatedApiKey>;
  list(filter?: ListApiKeysFilter): Promise<{ keys: ApiKeyRecord[]; nextCursor: string | undefined }>;
  /** Revokes a key (again is fine: the first revocation time is kept); `not-found` for an unknown id. */
  revoke(id: string): Promise<ApiKeyRecord>;
  /**
   * At start-up: with `masterKey`, makes sure it is registered as an admin key (idempotent, hash only);
   * without one, creates an admin key when no active admin exists and returns it once, to be shown to
   * the operator. Returns undefined otherwise.
   */
  bootstrapAdmin(options: { masterKey?: string | undefined }): Promise<CreatedApiKey | undefined>;
}

/** Dependencies of {@link createApiKeyService}. */
export interface ApiKeyServiceOptions {
  store: ApiKeyStore;
  /** Clock for revocation times, the expiry check at creation and the bootstrap's (epoch ms). */
  now?: () => number;
  logger?: Logger;
}

const adminTenant = "admin";
const maxNameLength = 200;
const maxTenantLength = 128;
const defaultPageSize = 50;
const maxPageSize = 500;

/** Creates, lists and revokes API keys and bootstraps the first admin key; errors are {@link AccessError}s. */
export function createApiKeyService(options: ApiKeyServiceOptions): ApiKeyService {
  const { store, logger } = options;
  const now = options.now ?? Date.now;

  async function insert(fields: Omit<Parameters<ApiKeyStore["create"]>[0], "id" | "prefix" | "hash">) {
    const { key, prefix, hash } = generateApiKey();
    const record = await store.create({ id: randomUUID(), prefix, hash, ...fields });
    return { record, key };
  }

  async function registerMasterKey(masterKey: string): Promise<void> {
    const parsed = parseApiKey(masterKey);
    if (!parsed) {
      throw new AccessError(
        "invalid-argument",
        "the master key must have the form noa_<10 letters or digits>_<32 to 128 letters or digits>; " +
          "leave it unset to have one generated on the first start",
      );
    }
    const hash = hashApiKey(masterKey);
    const existing = await store.findByPrefix(parsed.prefix);
    if (existing) return checkMasterRecord(existing, hash);
    try {
      const record = await store.create({
        id: randomUUID(),
        prefix: parsed.prefix,
        hash,
        name: "master key",
        tenant: adminTenant,
        scopes: [...allScopes],
        allowedModels: [],
        limits: {},
      });
      logger?.info({ keyId: record.id, prefix: record.prefix }, "master API key registered");
    } catch (error) {
      // Another replica starting at the same moment may have registered it first.
      const winner = await store.findByPrefix(parsed.prefix);
      if (!winner) throw error;
      checkMasterRecord(winner, hash);
    }
  }

  return {
    async create(input) {
      const wanted = {
        allowedModels: parseModels(input.allowedModels ?? []),
        limits: parseLimits(input.limits ?? {}),
        expiresAt: parseExpiry(input.expiresAt, now()),
      };
      const fields = {
        name: requireText(input.name, "name", maxNameLength),
        tenant: requireText(input.tenant, "tenant", maxTenantLength),
        scopes: parseScopes(input.scopes),
        ...(input.creator ? withinCreator(input.creator, wanted) : wanted),
      };
      const created = await insert(fields);
      logger?.info(
        {
          keyId: created.record.id,
          prefix: created.record.prefix,
          tenant: fields.tenant,
          scopes: fields.scopes,
          expiresAt: fields.expiresAt?.toISOString(),
        },
        "API key created",
      );
      return created;
    },

    async list(filter = {}) {
      const limit = filter.limit ?? 0;
      if (!Number.isInteger(limit) || limit < 0) {
        throw new AccessError(
          "invalid-argument",
          `page_size must be a whole number of at least 0 (0: ${defaultPageSize}; above ${maxPageSize}: ${maxPageSize})`,
        );
      }
      return store.list({
        tenant: filter.tenant?.trim() || undefined,
        includeRevoked: filter.includeRevoked ?? false,
        limit: limit === 0 ? defaultPageSize : Math.min(limit, maxPageSize),
        cursor: filter.cursor || undefined,
      });
    },

    async revoke(id) {
      if (!id.trim())
        throw new AccessError("invalid-argument", "id is required: the id of the API key to revoke");
      const record = await store.revoke(id, new Date(now()));
      if (!record) throw new AccessError("not-found", `API key "${id}" does not exist`);
      logger?.info({ keyId: record.id, prefix: record.prefix }, "API key revoked");
      return record;
    },

    async bootstrapAdmin({ masterKey }) {
      const configured = masterKey?.trim();
      if (configured) {
        await registerMasterKey(configured);
        return undefined;
      }
      if (await store.hasActiveAdmin(new Date(now()))) return undefined;
      // Replicas starting together on an empty database may each make one; every one is a valid admin key.
      const created = await insert({
        name: "bootstrap admin key",
        tenant: adminTenant,
        scopes: [...allScopes],
        allowedModels: [],
        limits: {},
      });
      logger?.warn(
        { keyId: created.record.id, prefix: created.record.prefix },
        "no active admin API key existed: created one; it is shown once",
      );
      return created;
    },
  };
}

function checkMasterRecord(record: ApiKeyRecord, hash: string): void {
  const expected = Buffer.from(hash, "hex");
  const stored = Buffer.from(record.hash, "hex");
  if (stored.length !== expected.length || !timingSafeEqual(stored, expected)) {
    throw new AccessError(
      "invalid-argument",
      `the master key's prefix ${record.prefix} already belongs to another API key; generate a new master key`,
    );
  }
  // A revocation is deliberate (e.g. after a leak); undoing it on restart would defeat it.
  if (record.revokedAt) {
    throw new AccessError(
      "invalid-argument",
      `the master key ${record.prefix} was revoked at ${record.revokedAt.toISOString()}; configure a new one`,
    );
  }
  if (!record.scopes.includes("admin")) {
    throw new AccessError(
      "invalid-argument",
      `the master key ${record.prefix} is registered without the admin scope; configure a new one`,
    );
  }
}

function requireText(value: string, field: string, maxLength: number): string {
  const text = value.trim();
  if (!text) throw new AccessError("invalid-argument", `${field} is required and must not be blank`);
  if (text.length > maxLength) {
    throw new AccessError("invalid-argument", `${field} must be at most ${maxLength} characters`);
  }
  return text;
}

function parseScopes(scopes: readonly string[]): Scope[] {
  if (scopes.length === 0) {
    throw new AccessError("invalid-argument", `scopes must name at least one of: ${allScopes.join(", ")}`);
  }
  const unknown = scopes.filter((scope) => !(allScopes as readonly string[]).includes(scope));
  if (unknown.length > 0) {
    throw new AccessError(
      "invalid-argument",
      `unknown scope ${unknown.map((scope) => `"${scope}"`).join(", ")}; known scopes: ${allScopes.join(", ")}`,
    );
  }
  return [...new Set(scopes as readonly Scope[])];
}

function parseModels(models: readonly string[]): string[] {
  const trimmed = models.map((model) => model.trim());
  if (trimmed.some((model) => !model)) {
    throw new AccessError("invalid-argument", "allowed_models must not contain blank entries");
  }
  return [...new Set(trimmed)];
}

function parseExpiry(expiresAt: Date | undefined, now: number): Date | undefined {
  if (expiresAt === undefined) return undefined;
  const at = expiresAt.getTime();
  if (Number.isNaN(at)) {
    throw new AccessError(
      "invalid-argument",
      "expire_time is not a valid time: send one in the future (e.g. 2030-01-01T00:00:00Z), " +
        "or leave it unset for a key that never expires",
    );
  }
  if (at <= now) {
    throw new AccessError(
      "invalid-argument",
      `expire_time must be in the future: got ${expiresAt.toISOString()}, and it is now ` +
        `${new Date(now).toISOString()}; leave it unset for a key that never expires`,
    );
  }
  if (at > latestExpiry) {
    // Past what a database timestamp (and a google.protobuf.Timestamp) holds: the store would fail.
    throw new AccessError(
      "invalid-argument",
      `expire_time must be no later than ${new Date(latestExpiry).toISOString()}: got ` +
        `${expiresAt.toISOString()}; leave it unset for a key that never expires`,
    );
  }
  return new Date(at);
}

/** The latest expiry a key may have: the end of year 9999, as in google.protobuf.Timestamp. */
const latestExpiry = Date.parse("9999-12-31T23:59:59.999Z");

function parseLimits(limits: KeyLimits): KeyLimits {
  const parsed: KeyLimits = {};
  const { requestBurst, requestsPerSecond, tokensPerMinute } = limits;
  if (requestBurst !== undefined) {
    if (!Number.isInteger(requestBurst) || requestBurst < 1) {
      throw new AccessError(
        "invalid-argument",
        "rate_limit.request_burst must be a whole number of at least 1",
      );
    }
    parsed.requestBurst = requestBurst;
  }
  if (requestsPerSecond !== undefined) {
    if (!Number.isFinite(requestsPerSecond) || requestsPerSecond <= 0) {
      throw new AccessError("invalid-argument", "rate_limit.requests_per_second must be a number above 0");
    }
    parsed.requestsPerSecond = requestsPerSecond;
  }
  if (tokensPerMinute !== undefined) {
    if (!Number.isInteger(tokensPerMinute) || tokensPerMinute < 0) {
      throw new AccessError(
        "invalid-argument",
        "rate_limit.tokens_per_minute must be a whole number of at least 0",
      );
    }
    parsed.tokensPerMinute = tokensPerMinute;
  }
  return parsed;
}
