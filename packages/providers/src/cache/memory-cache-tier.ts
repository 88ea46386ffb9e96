import type { CacheTier, CacheWrite } from "./cache-tier.js";

/** Bounds and clock of the in-process tier. */
export interface MemoryCacheTierOptions {
  /** Default time to live (seed design: 5 minutes). */
  ttlMs?: number;
  /** Most entries kept; the least recently used go first. */
  maxEntries?: number;
  /** Most bytes kept (an estimate: UTF-16 strings plus a fixed overhead per entry). */
  maxBytes?: number;
  now?: () => number;
}

/** The in-process tier, with what it holds (for metrics and tests). */
export interface MemoryCacheTier extends CacheTier {
  readonly name: "memory";
  stats(): { entries: number; bytes: number; evictions: number };
  clear(): void;
}

interface Slot {
  entry: CacheWrite;
  bytes: number;
}

/** Per-entry bookkeeping beyond its strings: the Map slot, the objects, the numbers. */
const entryOverheadBytes = 256;

/**
 * L1: an LRU in this process's memory, bounded by entries and by bytes, with expiry on an injected
 * clock. A Map keeps insertion order, so moving a read entry to the end makes the first the least
 * recently used. An entry larger than the whole budget is not kept.
 */
export function createMemoryCacheTier({
  ttlMs = 5 * 60_000,
  maxEntries = 10_000,
  maxBytes = 64 * 1024 * 1024,
  now = Date.now,
}: MemoryCacheTierOptions = {}): MemoryCacheTier {
  const slots = new Map<string, Slot>();
  let bytes = 0;
  let evictions = 0;

  const remove = (key: string, slot: Slot) => {
    slots.delete(key);
    bytes -= slot.bytes;
  };

  const live = (key: string): Slot | undefined => {
    const slot = slots.get(key);
    if (!slot || slot.entry.expiresAt > now()) return slot;
    remove(key, slot);
    return undefined;
  };

  return {
    name: "memory",
    defaultTtlMs: ttlMs,
    async get(key) {
      const slot = live(key);
      if (!slot) return undefined;
      slots.delete(key);
      slots.set(key, slot);
      return { value: slot.entry.value, expiresAt: slot.entry.expiresAt };
    },
    has: (key) => live(key) !== undefined,
    async set(key, entry) {
      const { value } = entry;
      const size =
        2 * (key.length + entry.scope.length + value.text.length + value.model.length) + entryOverheadBytes;
      const previous = slots.get(key);
      if (previous) remove(key, previous);
      if (size > maxBytes || entry.expiresAt <= now()) return;
      slots.set(key, { entry, bytes: size });
      bytes += size;
      for (const [oldest, slot] of slots) {
        if (slots.size <= maxEntries && bytes <= maxBytes) break;
        remove(oldest, slot);
        evictions++;
      }
    },
    stats: () => ({ entries: slots.size, bytes, evictions }),
    clear() {
      slots.clear();
      bytes = 0;
    },
  };
}
