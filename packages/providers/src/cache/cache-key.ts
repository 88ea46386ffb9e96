import { hash } from "node:crypto";
import type { CallOptions } from "../language-model.js";

/** The model a call is addressed to: as the caller named it, and the targets the routing table resolved it to. */
export interface CacheIdentity {
  /** Model id or alias as requested, e.g. `default`. */
  requested: string;
  /** The `<provider>/<model>` targets it resolves to, in order; a route change makes new keys. */
  resolved: readonly string[];
}

/** Bumped when the canonical form or the stored answer's shape changes, so old entries are never read. */
const version = "noa-cache-v1";

/**
 * Whether sampling makes the same answer twice: greedy (temperature 0) or seeded. An unset temperature
 * is the provider's default (1 for OpenAI and Anthropic), so it is not repeatable.
 */
export function isRepeatable(options: Pick<CallOptions, "temperature" | "seed">): boolean {
  return options.temperature === 0 || options.seed !== undefined;
}

/**
 * The canonical form of a request: every field that changes the answer, in a fixed order, with defaults
 * normalised (unset → null, `topP` 1 → unset, stop sequences de-duplicated, sorted and without empty
 * ones), so equal requests serialise equal whatever the order or spelling of their fields.
 */
export function canonicalRequest(identity: CacheIdentity, options: CallOptions, scope: string): string {
  const stop = [...new Set(options.stop?.filter((text) => text.length > 0) ?? [])].sort();
  return JSON.stringify([
    version,
    scope,
    identity.requested,
    identity.resolved,
    options.messages.map((message) => [message.role, message.content]),
    options.maxTokens ?? null,
    normalise(options.temperature),
    options.topP === 1 ? null : normalise(options.topP),
    stop,
    options.seed ?? null,
  ]);
}

/** The cache key of a request: SHA-256 of its canonical form, base64url (43 characters). */
export function cacheKey(identity: CacheIdentity, options: CallOptions, scope: string): string {
  return hash("sha256", canonicalRequest(identity, options, scope), "base64url");
}

function normalise(value: number | undefined): number | null {
  if (value === undefined) return null;
  return value === 0 ? 0 : value; // -0 and 0 are the same parameter
}
