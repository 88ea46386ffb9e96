import { describe, expect, it } from "vitest";
import type { CachedAnswer } from "./cache-tier.js";
import { createMemoryCacheTier } from "./memory-cache-tier.js";

const answer = (text: string): CachedAnswer => ({
  text,
  finishReason: "stop",
  usage: { promptTokens: 3, completionTokens: 5 },
  model: "openai/gpt-4o-mini",
  createdAt: 0,
});

function clock(start = 1_000_000) {
  let time = start;
  return { now: () => time, advance: (ms: number) => (time += ms) };
}

describe("createMemoryCacheTier", () => {
  it("returns what was stored until it expires on the injected clock", async () => {
    const time = clock();
    const tier = createMemoryCacheTier({ ttlMs: 1_000, now: time.now });
    await tier.set("k", { scope: "s", value: answer("waves"), expiresAt: time.now() + 1_000 });
    expect(await tier.get("k")).toEqual({ value: answer("waves"), expiresAt: time.now() + 1_000 });
    time.advance(999);
    expect((await tier.get("k"))?.value).toEqual(answer("waves"));
    expect(tier.has?.("k")).toBe(true);
    time.advance(1);
    expect(tier.has?.("k")).toBe(false);
    expect(await tier.get("k")).toBeUndefined();
    expect(tier.stats()).toMatchObject({ entries: 0, bytes: 0 });
  });

  it("evicts the least recently used entry beyond maxEntries", async () => {
    const time = clock();
    const tier = createMemoryCacheTier({ maxEntries: 2, now: time.now });
    const entry = (text: string) => ({ scope: "s", value: answer(text), expiresAt: time.now() + 60_000 });
    await tier.set("a", entry("a"));
    await tier.set("b", entry("b"));
    await tier.get("a"); // a is now more recent than b
    await tier.set("c", entry("c"));
    expect(await tier.get("b")).toBeUndefined();
    expect((await tier.get("a"))?.value).toEqual(answer("a"));
    expect((await tier.get("c"))?.value).toEqual(answer("c"));
    expect(tier.stats()).toMatchObject({ entries: 2, evictions: 1 });
  });

  it("keeps its byte estimate under maxBytes, evicting the oldest, and never keeps an entry bigger than it", async () => {
    const time = clock();
    const tier = createMemoryCacheTier({ maxBytes: 10_000, now: time.now });
    const entry = (chars: number) => ({
      scope: "s",
      value: answer("x".repeat(chars)),
      expiresAt: time.now() + 60_000,
    });
    for (const key of ["a", "b", "c", "d"]) await tier.set(key, entry(1_500)); // ~3.3 kB each
    expect(tier.stats().bytes).toBeLessThanOrEqual(10_000);
    expect(await tier.get("a")).toBeUndefined();
    expect(await tier.get("d")).toBeDefined();

    await tier.set("huge", entry(6_000));
    expect(await tier.get("huge")).toBeUndefined();
    expect(await tier.get("d")).toBeDefined();
  });

  it("replaces an entry stored again under the same key without counting it twice", async () => {
    const time = clock();
    const tier = createMemoryCacheTier({ now: time.now });
    await tier.set("k", { scope: "s", value: answer("old"), expiresAt: time.now() + 60_000 });
    const { bytes } = tier.stats();
    await tier.set("k", { scope: "s", value: answer("new"), expiresAt: time.now() + 60_000 });
    expect(tier.stats()).toMatchObject({ entries: 1, bytes });
    expect((await tier.get("k"))?.value).toEqual(answer("new"));
  });
});
