import { AccessError } from "./access-error.js";
import { hasModel } from "./authorize.js";
import type { KeyLimits, Principal } from "./principal.js";

/** What a new key asks for that its creator's own bounds apply to (after validation). */
export interface KeyBounds {
  allowedModels: string[];
  limits: KeyLimits;
  /** Absent: the key never expires. */
  expiresAt?: Date | undefined;
}

const limitFields = [
  ["requestBurst", "rate_limit.request_burst"],
  ["requestsPerSecond", "rate_limit.requests_per_second"],
  ["tokensPerMinute", "rate_limit.tokens_per_minute"],
] as const;

/**
 * The bounds of a key `creator` mints: never more than the creator's own. Its allowed models must lie
 * within the creator's allow-list (none asked: the creator's list); each limit the creator has set must
 * not be exceeded (unset: the creator's; a `tokensPerMinute` of 0 means none, so it exceeds any); it may
 * not outlive a creator that expires. Refuses with `permission-denied` naming the field. A token (JWT)
 * always expires, so its keys must too, by its `exp`: a key outliving the token would survive the
 * identity provider taking the token's holder away.
 */
export function withinCreator(creator: Principal, wanted: KeyBounds): KeyBounds {
  return {
    allowedModels: modelsWithin(creator, wanted.allowedModels),
    limits: limitsWithin(creator, wanted.limits),
    expiresAt: expiryWithin(creator, wanted.expiresAt),
  };
}

function expiryWithin(creator: Principal, wanted: Date | undefined): Date | undefined {
  const own = creator.expiresAt;
  if (own === undefined) {
    // The verifier requires `exp`; a token without one has nothing to bound its keys by.
    if (creator.kind === "jwt") {
      throw new AccessError(
        "permission-denied",
        "a token (JWT) without an expiry (exp) may not create API keys; create keys with an admin API key",
      );
    }
    return wanted;
  }
  const who = creator.kind === "jwt" ? "token (JWT)" : "API key";
  if (wanted === undefined) {
    throw new AccessError(
      "permission-denied",
      `expire_time is required: ${creator.kind === "jwt" ? "a token (JWT)" : "an API key that expires"} ` +
        `may not create API keys that never expire; set expire_time to no later than its own expiry ` +
        `(${own.toISOString()})`,
    );
  }
  if (wanted > own) {
    throw new AccessError(
      "permission-denied",
      `expire_time may not be later than this ${who}'s own expiry (${own.toISOString()}); ` +
        `got ${wanted.toISOString()}`,
    );
  }
  return wanted;
}

function modelsWithin(creator: Principal, wanted: string[]): string[] {
  const own = creator.allowedModels;
  if (own.length === 0) return wanted;
  if (wanted.length === 0) return [...own];
  // `hasModel` reads a wanted `<provider>/*` as a model id: covered only by the same wildcard or a wider one.
  const outside = wanted.filter((model) => !hasModel(creator, model));
  if (outside.length > 0) {
    throw new AccessError(
      "permission-denied",
      `allowed_models may not go beyond this API key's own (${own.join(", ")}): ` +
        `${outside.map((model) => `"${model}"`).join(", ")} is outside it`,
    );
  }
  return wanted;
}

function limitsWithin(creator: Principal, wanted: KeyLimits): KeyLimits {
  const limits: KeyLimits = { ...wanted };
  for (const [name, field] of limitFields) {
    const own = creator.limits[name];
    if (own === undefined) continue;
    const asked = limits[name];
    if (asked === undefined) {
      limits[name] = own;
      continue;
    }
    // A token budget of 0 is no budget at all: the most there is.
    const unlimited = (value: number) => name === "tokensPerMinute" && value === 0;
    if (unlimited(own)) continue;
    if (unlimited(asked) || asked > own) {
      throw new AccessError(
        "permission-denied",
        `${field} may not exceed this API key's own (${own}); got ${unlimited(asked) ? "0 (no limit)" : asked}`,
      );
    }
  }
  return limits;
}
