export { AccessError, type AccessErrorCode } from "./auth/access-error.js";
export type { ApiKeyRecord, ApiKeyStore } from "./auth/api-key-store.js";
export { hasModel, hasScope, requireModel, requireScope } from "./auth/authorize.js";
export {
  type ApiKeyService,
  type ApiKeyServiceOptions,
  type CreateApiKeyInput,
  type CreatedApiKey,
  createApiKeyService,
  type ListApiKeysFilter,
} from "./auth/create-api-key-service.js";
export {
  type Authenticator,
  type AuthenticatorOptions,
  createAuthenticator,
} from "./auth/create-authenticator.js";
export {
  createJwtVerifier,
  type JwtKeySource,
  type JwtVerifier,
  type JwtVerifierOptions,
} from "./auth/create-jwt-verifier.js";
export { type GeneratedApiKey, generateApiKey, hashApiKey, parseApiKey } from "./auth/generate-api-key.js";
export {
  createInMemoryApiKeyStore,
  type InMemoryApiKeyStoreOptions,
} from "./auth/in-memory-api-key-store.js";
export type { Logger } from "./auth/logger.js";
export { allScopes, type KeyLimits, type Principal, type Scope } from "./auth/principal.js";
export { DEFAULT_PRICES } from "./pricing/default-prices.js";
export type { LongContextPrice, ModelPrice } from "./pricing/model-price.js";
export { parsePricingConfig } from "./pricing/parse-pricing-config.js";
export {
  createPriceTable,
  type PriceLookup,
  type PriceTable,
  type PriceTableOptions,
  type TokenUsage,
} from "./pricing/price-table.js";
export {
  createFailoverRateLimiter,
  type FailoverRateLimiter,
  type FailoverRateLimiterOptions,
  type RateLimitMode,
} from "./rate-limit/failover-rate-limiter.js";
export { createLocalRateLimiter, type LocalRateLimiterOptions } from "./rate-limit/local-rate-limiter.js";
export { rateLimitDefaultsFromEnv } from "./rate-limit/rate-limit-defaults-from-env.js";
export type {
  AdmitOptions,
  AdmitResult,
  RateLimitAllowed,
  RateLimitDefaults,
  RateLimiter,
  RateLimitRefused,
} from "./rate-limit/rate-limiter.js";
export {
  createRedisRateLimiter,
  type RedisRateLimiterOptions,
  rateLimitKeyPrefix,
} from "./rate-limit/redis-rate-limiter.js";
export { resolveKeyLimits } from "./rate-limit/resolve-key-limits.js";
export {
  createUsageLedger,
  type UsageLedger,
  type UsageLedgerOptions,
  type UsageLedgerStats,
} from "./usage/usage-ledger.js";
export type { UsageRecord, UsageStore, UsageSummaryRow } from "./usage/usage-store.js";
