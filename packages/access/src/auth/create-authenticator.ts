import { timingSafeEqual } from "node:crypto";
import { AccessError } from "./access-error.js";
import type { ApiKeyRecord, ApiKeyStore } from "./api-key-store.js";
import type { JwtVerifier } from "./create-jwt-verifier.js";
import { hashApiKey, parseApiKey } from "./generate-api-key.js";
import type { Logger } from "./logger.js";
import type { Principal } from "./principal.js";
import { createTtlLruCache } from "./ttl-lru-cache.js";

/** Dependencies and cache policy of {@link createAuthenticator}. */
export interface AuthenticatorOptions {
  store: ApiKeyStore;
  /** Accepts JWTs as bearer tokens; without it only API keys are accepted. */
  jwt?: JwtVerifier;
  /**
   * How long a validated key is trusted without asking the store: a revocation takes effect within this.
   * Never past the key's expiry, which takes effect on time.
   */
  cacheTtlMs?: number;
  /** Validated keys kept at most (least recently used go first). */
  cacheSize?: number;
  /** How long a refused key is refused without asking the store again (0 turns it off). */
  negativeCacheTtlMs?: number;
  /** Clock for the caches and `lastUsedAt` (epoch ms). */
  now?: () => number;
  logger?: Logger;
}

/** Establishes who is calling; errors are `unauthenticated` (or `unavailable`) {@link AccessError}s. */
export interface Authenticator {
  /** Reads `Authorization: Bearer <API key or JWT>` or `x-api-key: <API key>`. */
  authenticate(headers: Headers): Promise<Principal>;
  /** Drops a key from this process's cache (call after revoking it here); other processes wait out their TTL. */
  forget(keyId: string): void;
}

interface CachedKey {
  principal: Principal;
  keyId: string;
  touchedAt: number;
}

const touchIntervalMs = 60_000;
const negativeCacheSize = 1_000;
const invalidKeyMessage = "the API key is not valid; send a key created by this server's ApiKeyService";

/**
 * Authenticates requests by API key (looked up by prefix, hash compared in constant time, cached by the
 * hash of the presented key) or by JWT. A cache hit costs one SHA-256 and a Map lookup, with no I/O.
 */
export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const { store, jwt, logger } = options;
  const now = options.now ?? Date.now;
  const cacheTtlMs = options.cacheTtlMs ?? 30_000;
  const negativeTtlMs = options.negativeCacheTtlMs ?? Math.min(5_000, cacheTtlMs);
  const valid = createTtlLruCache<CachedKey>({ maxEntries: options.cacheSize ?? 10_000, now });
  // Kept apart so a flood of bad keys cannot push good ones out of `valid`.
  const refused = createTtlLruCache<string>({ maxEntries: negativeCacheSize, now });
  const inFlight = new Map<string, Promise<Principal>>();
  const bearer = jwt ? "API key or JWT" : "API key";

  function touch(entry: CachedKey): void {
    const at = now();
    if (at - entry.touchedAt < touchIntervalMs) return;
    entry.touchedAt = at;
    // Fire and forget: recording use must never fail or slow the request.
    Promise.resolve()
      .then(() => store.touch(entry.keyId, new Date(at)))
      .catch((error: unknown) =>
        logger?.warn({ err: error, keyId: entry.keyId }, "could not record API key use"),
      );
  }

  function refuse(digest: string, prefix: string, message: string): never {
    if (negativeTtlMs > 0) refused.set(digest, message, negativeTtlMs);
    logger?.debug({ prefix }, "API key refused");
    throw new AccessError("unauthenticated", message);
  }

  async function lookUp(digest: string, prefix: string): Promise<Principal> {
    let record: Awaited<ReturnType<typeof store.findByPrefix>>;
    try {
      record = await store.findByPrefix(prefix);
    } catch (error) {
      // The store is down, not the key wrong: nothing is cached, and the caller may try again.
      logger?.warn({ err: error, prefix }, "API key lookup failed");
      throw new AccessError("unavailable", "API keys cannot be checked right now; try again shortly", {
        cause: error,
      });
    }
    if (!record || !hashesMatch(record.hash, digest)) return refuse(digest, prefix, invalidKeyMessage);
    if (record.revokedAt)
      return refuse(digest, prefix, "the API key has been revoked; ask an admin for a new one");
    const at = now();
    if (record.expiresAt && record.expiresAt.getTime() <= at) {
      return refuse(
        digest,
        prefix,
        `the API key expired at ${record.expiresAt.toISOString()}; ask an admin for a new one`,
      );
    }
    const entry: CachedKey = {
      principal: toPrincipal(record),
      keyId: record.id,
      touchedAt: record.lastUsedAt?.getTime() ?? Number.NEGATIVE_INFINITY,
    };
    // The cache trusts a key only until it expires: the next request after that asks the store, and is refused.
    const ttlMs = record.expiresAt ? Math.min(cacheTtlMs, record.expiresAt.getTime() - at) : cacheTtlMs;
    if (ttlMs > 0) valid.set(digest, entry, ttlMs);
    touch(entry);
    return entry.principal;
  }

  function authenticateKey(key: string, prefix: string): Promise<Principal> {
    // Keyed by the hash of the whole presented key: a wrong secret under a right prefix never matches.
    const digest = hashApiKey(key);
    const cached = valid.get(digest);
    if (cached) {
      touch(cached);
      return Promise.resolve(cached.principal);
    }
    const refusal = refused.get(digest);
    if (refusal !== undefined) return Promise.reject(new AccessError("unauthenticated", refusal));
    let pending = inFlight.get(digest);
    if (!pending) {
      // Concurrent first requests with one key share one store lookup.
      pending = lookUp(digest, prefix).finally(() => inFlight.delete(digest));
      inFlight.set(digest, pending);
    }
    return pending;
  }

  function readCredential(headers: Headers): string {
    const authorization = headers.get("authorization");
    const match = authorization === null ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (match?.[1] !== undefined) return match[1];
    const apiKey = headers.get("x-api-key")?.trim();
    if (apiKey) return apiKey;
    if (authorization !== null) {
      throw new AccessError("unauthenticated", `the Authorization header must be "Bearer <${bearer}>"`);
    }
    throw new AccessError(
      "unauthenticated",
      `missing credentials: send "Authorization: Bearer <${bearer}>" or "x-api-key: <API key>"`,
    );
  }

  return {
    async authenticate(headers) {
      const credential = readCredential(headers);
      const parsed = parseApiKey(credential);
      if (parsed) return authenticateKey(credential, parsed.prefix);
      if (jwt) return jwt.verify(credential);
      throw new AccessError(
        "unauthenticated",
        "the credential is not a NOA API key (noa_…); this server accepts API keys only",
      );
    },

    forget(keyId) {
      for (const [digest, entry] of valid.entries()) if (entry.keyId === keyId) valid.delete(digest);
    },
  };
}

function hashesMatch(storedHex: string, presentedHex: string): boolean {
  const stored = Buffer.from(storedHex, "hex");
  const presented = Buffer.from(presentedHex, "hex");
  return stored.length === presented.length && timingSafeEqual(stored, presented);
}

function toPrincipal(record: ApiKeyRecord): Principal {
  // Shared by every request the cache serves, so nobody downstream may change it.
  return Object.freeze({
    kind: "key",
    id: record.id,
    tenant: record.tenant,
    scopes: Object.freeze([...record.scopes]),
    allowedModels: Object.freeze([...record.allowedModels]),
    limits: Object.freeze({ ...record.limits }),
    ...(record.expiresAt && { expiresAt: new Date(record.expiresAt) }),
  }) as Principal;
}
