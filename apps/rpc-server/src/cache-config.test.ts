import { describe, expect, it } from "vitest";
import { parseConfig } from "./config.js";

describe("parseConfig: cache settings", () => {
  it("defaults to all three tiers per tenant, coalescing on, the seed design's TTLs and a bounded memory tier", () => {
    expect(parseConfig({}).cache).toEqual({
      tiers: ["memory", "redis", "database"],
      shared: false,
      coalesce: true,
      memoryTtlMs: 300_000,
      redisTtlMs: 3_600_000,
      databaseTtlMs: 30 * 24 * 3_600_000,
      memoryMaxEntries: 10_000,
      memoryMaxBytes: 64 * 1024 * 1024,
      tierTimeoutMs: 500,
    });
  });

  it("reads each variable, keeping the tiers fastest first whatever their order", () => {
    const cache = parseConfig({
      NOA_CACHE_TIERS: "database, memory",
      NOA_CACHE_SCOPE: "shared",
      NOA_CACHE_COALESCE: "off",
      NOA_CACHE_MEMORY_TTL_S: "60",
      NOA_CACHE_REDIS_TTL_S: "120",
      NOA_CACHE_DATABASE_TTL_S: "86400",
      NOA_CACHE_MEMORY_MAX_ENTRIES: "500",
      NOA_CACHE_MEMORY_MAX_BYTES: "1048576",
      NOA_CACHE_TIER_TIMEOUT_MS: "2000",
    }).cache;
    expect(cache).toEqual({
      tiers: ["memory", "database"],
      shared: true,
      coalesce: false,
      memoryTtlMs: 60_000,
      redisTtlMs: 120_000,
      databaseTtlMs: 86_400_000,
      memoryMaxEntries: 500,
      memoryMaxBytes: 1_048_576,
      tierTimeoutMs: 2_000,
    });
    expect(parseConfig({ NOA_CACHE_TIERS: "none" }).cache.tiers).toEqual([]);
  });

  it("refuses what it cannot read, naming the variable", () => {
    expect(() => parseConfig({ NOA_CACHE_TIERS: "memory,disk" })).toThrow(/NOA_CACHE_TIERS/);
    expect(() => parseConfig({ NOA_CACHE_SCOPE: "global" })).toThrow(/NOA_CACHE_SCOPE/);
    expect(() => parseConfig({ NOA_CACHE_MEMORY_TTL_S: "0" })).toThrow(/NOA_CACHE_MEMORY_TTL_S/);
    expect(() => parseConfig({ NOA_CACHE_TIER_TIMEOUT_MS: "soon" })).toThrow(/NOA_CACHE_TIER_TIMEOUT_MS/);
  });
});
