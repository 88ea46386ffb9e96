/** A permission; DESIGN.md's scopes. */
export type Scope = "inference" | "models:read" | "jobs" | "admin";

/** Every scope, for validation and for the bootstrap admin key. */
export const allScopes: readonly Scope[] = ["inference", "models:read", "jobs", "admin"];

/** Per-key limits; undefined fields take the server's defaults. */
export interface KeyLimits {
  /** Token bucket capacity for requests (seed design: 100). */
  requestBurst?: number;
  /** Refill of the request bucket per second (seed design: 10). */
  requestsPerSecond?: number;
  /** Prompt + completion tokens per minute; undefined or 0 means no token limit. */
  tokensPerMinute?: number;
}

/** Who is calling, established once per request by the auth layer and read by everything after it. */
export interface Principal {
  /** `key` for an API key, `jwt` for a verified token. */
  kind: "key" | "jwt";
  /** The API key's id, or the JWT's subject. */
  id: string;
  tenant: string;
  scopes: Scope[];
  /** Model ids or aliases the caller may use; empty means all. */
  allowedModels: string[];
  limits: KeyLimits;
  /**
   * When the credential stops working (an API key's expiry, a token's `exp`); absent: never. A key it
   * creates may not outlive it (withinCreator).
   */
  expiresAt?: Date;
}
