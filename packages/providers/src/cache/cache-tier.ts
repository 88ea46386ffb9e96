import type { FinishReason, Usage } from "../language-model.js";

/** The tiers, fastest first. */
export type CacheTierName = "memory" | "redis" | "database";

/** What the cache keeps of an answer: enough to give it again, whole or as a stream. */
export interface CachedAnswer {
  text: string;
  finishReason: Exclude<FinishReason, "cancelled">;
  usage: Usage;
  /** `<provider>/<model>` that produced it. */
  model: string;
  /** Epoch ms when it was produced. */
  createdAt: number;
}

/** One stored answer as a tier writes it. */
export interface CacheWrite {
  /** The partition it belongs to (e.g. `tenant:acme`); the key already includes it. */
  scope: string;
  value: CachedAnswer;
  /** Epoch ms after which it must not be served. */
  expiresAt: number;
}

/**
 * One tier of the response cache: a store of JSON-able answers by key with an expiry. Tiers do not
 * interpret what they store; the response cache checks what they return (an entry read from Redis or
 * the database may have been written by another version). Errors are thrown, never swallowed: the
 * response cache logs them and skips the tier.
 */
export interface CacheTier {
  readonly name: CacheTierName;
  /** How long an answer stays in this tier when the call does not set a TTL. */
  readonly defaultTtlMs: number;
  /** The unexpired entry under `key`, or undefined. */
  get(key: string): Promise<{ value: unknown; expiresAt: number } | undefined>;
  /** In-process tiers only: whether an unexpired entry is there, answered at once (no I/O, no promise). */
  has?(key: string): boolean;
  set(key: string, entry: CacheWrite): Promise<void>;
}

const finishReasons = new Set(["stop", "length", "content-filter"]);

/** A stored value as a CachedAnswer, or undefined when it is not one (another format, a corrupt row). */
export function parseCachedAnswer(value: unknown): CachedAnswer | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const answer = value as Partial<CachedAnswer>;
  const usage = answer.usage;
  if (
    typeof answer.text !== "string" ||
    typeof answer.finishReason !== "string" ||
    !finishReasons.has(answer.finishReason) ||
    typeof answer.model !== "string" ||
    typeof answer.createdAt !== "number" ||
    typeof usage !== "object" ||
    usage === null ||
    typeof usage.promptTokens !== "number" ||
    typeof usage.completionTokens !== "number"
  ) {
    return undefined;
  }
  return answer as CachedAnswer;
}
