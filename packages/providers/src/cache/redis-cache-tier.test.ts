import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import type { CachedAnswer } from "./cache-tier.js";
import { createRedisCacheTier } from "./redis-cache-tier.js";

const redis = new Redis("redis://127.0.0.1:6379");
const prefix = `noa-test:cache:${randomUUID()}:`;
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

const answer: CachedAnswer = {
  text: "The sea is vast",
  finishReason: "length",
  usage: { promptTokens: 7, completionTokens: 4 },
  model: "openai/gpt-4o-mini",
  createdAt: 1,
};

describe("createRedisCacheTier", () => {
  it("stores under its prefix with Redis's own expiry, and reads back the answer and its expiry", async () => {
    let time = Date.now();
    const tier = createRedisCacheTier({ redis, prefix, now: () => time });
    await tier.set("k1", { scope: "tenant:acme", value: answer, expiresAt: time + 60_000 });
    expect(await tier.get("k1")).toEqual({ value: answer, expiresAt: time + 60_000 });
    const pttl = await redis.pttl(`${prefix}k1`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(60_000);
    expect(await tier.get("k2")).toBeUndefined();

    time += 60_000; // past the stored expiry on this replica's clock
    expect(await tier.get("k1")).toBeUndefined();
  });

  it("does not store an entry that has already expired", async () => {
    const tier = createRedisCacheTier({ redis, prefix });
    await tier.set("gone", { scope: "s", value: answer, expiresAt: Date.now() - 1 });
    expect(await redis.exists(`${prefix}gone`)).toBe(0);
  });
});
