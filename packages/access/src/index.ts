export type { ApiKeyRecord, ApiKeyStore } from "./auth/api-key-store.js";
export { allScopes, type KeyLimits, type Principal, type Scope } from "./auth/principal.js";
export type { UsageRecord, UsageStore, UsageSummaryRow } from "./usage/usage-store.js";
