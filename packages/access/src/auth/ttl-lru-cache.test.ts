import { describe, expect, it } from "vitest";
import { createTtlLruCache } from "./ttl-lru-cache.js";

describe("createTtlLruCache", () => {
  it("expires entries after their TTL", () => {
    const clock = { now: 0 };
    const cache = createTtlLruCache<string>({ maxEntries: 10, now: () => clock.now });
    cache.set("a", "1", 100);
    clock.now = 99;
    expect(cache.get("a")).toBe("1");
    clock.now = 100;
    expect(cache.get("a")).toBeUndefined();
  });

  it("pushes out the least recently used entry when full", () => {
    const cache = createTtlLruCache<number>({ maxEntries: 2, now: () => 0 });
    cache.set("a", 1, 1_000);
    cache.set("b", 2, 1_000);
    cache.get("a");
    cache.set("c", 3, 1_000);
    expect([...cache.entries()]).toEqual([
      ["a", 1],
      ["c", 3],
    ]);
    expect(cache.get("b")).toBeUndefined();
  });
});
