import type { Interceptor } from "@connectrpc/connect";
import {
  type ApiKeyStore,
  createApiKeyService,
  createAuthenticator,
  createInMemoryApiKeyStore,
  createLocalRateLimiter,
  createPriceTable,
  createUsageLedger,
  type JwtVerifier,
  type RateLimiter,
  type UsageStore,
} from "@noa/access";
import { pino } from "pino";
import type { ServerDeps } from "../server.js";
import { createInMemoryUsageStore } from "./in-memory-usage-store.js";

/**
 * The access layer as main.ts builds it, over in-memory stores unless given real ones, with a
 * bootstrapped admin key; `withKey` adds a key to every call of a Connect transport.
 */
export async function createTestAccess(
  options: {
    /** Share another replica's key store; pass that replica's `adminKey` with it. */
    store?: ApiKeyStore;
    /** The store the authenticator reads keys from, when not `store` (setup writes go to `store`). */
    authStore?: ApiKeyStore;
    adminKey?: string;
    usageStore?: UsageStore;
    rateLimiter?: RateLimiter;
    cacheTtlMs?: number;
    jwt?: JwtVerifier;
  } = {},
) {
  const logger = pino({ level: "silent" });
  const store = options.store ?? createInMemoryApiKeyStore();
  const memoryUsage = createInMemoryUsageStore();
  const usageStore = options.usageStore ?? memoryUsage;
  const apiKeys = createApiKeyService({ store, logger });
  const admin = options.adminKey
    ? { key: options.adminKey, ...(await apiKeys.bootstrapAdmin({ masterKey: options.adminKey })) }
    : await apiKeys.bootstrapAdmin({});
  if (!admin) throw new Error("a fresh store must bootstrap an admin key");
  const authenticator = createAuthenticator({
    store: options.authStore ?? store,
    logger,
    cacheTtlMs: options.cacheTtlMs,
    jwt: options.jwt,
  });
  const ledger = createUsageLedger({ store: usageStore, logger, flushIntervalMs: 20 });
  const access: ServerDeps["access"] = {
    authenticator,
    apiKeys,
    usage: usageStore,
    accounting: {
      rateLimiter:
        options.rateLimiter ??
        createLocalRateLimiter({
          defaults: { requestBurst: 1_000, requestsPerSecond: 1_000, tokensPerMinute: 0 },
        }),
      ledger,
      prices: createPriceTable(),
    },
  };
  return {
    access,
    store,
    apiKeys,
    adminKey: admin.key,
    usageStore,
    /** Records written to the in-memory usage store (empty when a real store was given). */
    usageRecords: () => memoryUsage.records,
    ledger,
    close: () => ledger.close(),
  };
}

/** A client interceptor sending `Authorization: Bearer <key>`. */
export function withKey(key: string): Interceptor {
  return (next) => (request) => {
    request.header.set("authorization", `Bearer ${key}`);
    return next(request);
  };
}
