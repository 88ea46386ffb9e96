/** A bounded map whose entries expire; reading an entry makes it the most recently used. */
export interface TtlLruCache<V> {
  /** The live value, or undefined when absent or expired. */
  get(key: string): V | undefined;
  set(key: string, value: V, ttlMs: number): void;
  delete(key: string): void;
  /** Every live entry, for the rare full scan (e.g. forgetting a revoked key). */
  entries(): Iterable<[string, V]>;
}

/**
 * An LRU over a Map's insertion order (delete + set moves an entry to the end), with a TTL per entry:
 * O(1) per operation, no timers, nothing to close. Expired entries go when read or when pushed out.
 */
export function createTtlLruCache<V>(options: { maxEntries: number; now: () => number }): TtlLruCache<V> {
  const { maxEntries, now } = options;
  const entries = new Map<string, { value: V; expiresAt: number }>();

  return {
    get(key) {
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      entries.delete(key);
      if (entry.expiresAt <= now()) return undefined;
      entries.set(key, entry);
      return entry.value;
    },
    set(key, value, ttlMs) {
      entries.delete(key);
      entries.set(key, { value, expiresAt: now() + ttlMs });
      if (entries.size > maxEntries) {
        const oldest = entries.keys().next();
        if (!oldest.done) entries.delete(oldest.value);
      }
    },
    delete(key) {
      entries.delete(key);
    },
    *entries() {
      const at = now();
      for (const [key, entry] of entries) if (entry.expiresAt > at) yield [key, entry.value];
    },
  };
}
