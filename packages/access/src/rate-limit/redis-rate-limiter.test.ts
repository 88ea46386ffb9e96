import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import type { AdmitResult } from "./rate-limiter.js";
import { describeRateLimiterContract } from "./rate-limiter-contract.js";
import { createRedisRateLimiter } from "./redis-rate-limiter.js";

const REDIS_URL = "redis://127.0.0.1:6379";
const clients: Redis[] = [];
const prefixes: string[] = [];

function connect(): Redis {
  const client = new Redis(REDIS_URL);
  clients.push(client);
  return client;
}

function uniquePrefix(): string {
  const prefix = `noa-test:rate-limit:${randomUUID()}:`;
  prefixes.push(prefix);
  return prefix;
}

afterAll(async () => {
  const [client] = clients;
  if (client) {
    for (const prefix of prefixes) {
      const keys = await client.keys(`${prefix}*`);
      if (keys.length > 0) await client.del(...keys);
    }
  }
  await Promise.all(clients.map((c) => c.quit()));
});

const shared = connect();
describeRateLimiterContract("createRedisRateLimiter", ({ defaults, now }) =>
  createRedisRateLimiter({ redis: shared, prefix: uniquePrefix(), defaults, now }),
);

describe("createRedisRateLimiter", () => {
  it("admits exactly requestBurst of many concurrent requests arriving through two replicas", async () => {
    const prefix = uniquePrefix();
    // Server time and a refill too slow to add a token while the test runs: the count must be exact.
    const defaults = { requestBurst: 50, requestsPerSecond: 0.001, tokensPerMinute: 0 };
    const replicaA = createRedisRateLimiter({ redis: connect(), prefix, defaults });
    const replicaB = createRedisRateLimiter({ redis: connect(), prefix, defaults });

    const results = await Promise.all(
      Array.from({ length: 160 }, (_, i) => (i % 2 === 0 ? replicaA : replicaB).admit("key", {})),
    );

    const allowed = results.filter((result) => result.allowed);
    expect(allowed).toHaveLength(50);
    expect(allowed.map((result) => result.remaining).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 50 }, (_, i) => i),
    );
    const refused = results.find((result) => !result.allowed);
    expect(refused).toMatchObject({ allowed: false, reason: "requests", limit: 50 });
  });

  it("refills on the Redis server's clock", async () => {
    const limiter = createRedisRateLimiter({
      redis: connect(),
      prefix: uniquePrefix(),
      defaults: { requestBurst: 1, requestsPerSecond: 5, tokensPerMinute: 0 },
    });
    const burst = await Promise.all(Array.from({ length: 10 }, () => limiter.admit("key", {})));
    const refused = burst.find(
      (result): result is Extract<AdmitResult, { allowed: false }> => !result.allowed,
    );
    expect(refused?.retryAfterMs).toBeGreaterThan(0);
    expect(refused?.retryAfterMs).toBeLessThanOrEqual(200);

    await new Promise((resolve) => setTimeout(resolve, (refused?.retryAfterMs ?? 200) + 20));
    expect((await limiter.admit("key", {})).allowed).toBe(true);
  });

  it("keeps one hash per key that expires once both budgets would be full again", async () => {
    const redis = connect();
    const prefix = uniquePrefix();
    const limiter = createRedisRateLimiter({
      redis,
      prefix,
      defaults: { requestBurst: 10, requestsPerSecond: 10, tokensPerMinute: 6_000 },
      now: () => 1_000_000,
    });
    await limiter.admit("key", {});
    expect(Object.keys(await redis.hgetall(`${prefix}key`)).sort()).toEqual(["r", "rt", "t", "tt"]);
    // One request token back in 100 ms, + 1 s of slack.
    expect(await redis.pttl(`${prefix}key`)).toBeGreaterThan(0);
    expect(await redis.pttl(`${prefix}key`)).toBeLessThanOrEqual(1_100);

    await limiter.chargeTokens("key", 12_000, {});
    // Budget at -6 000 of 6 000/min: full again in two minutes.
    expect(await redis.pttl(`${prefix}key`)).toBeGreaterThan(100_000);
    expect(await redis.pttl(`${prefix}key`)).toBeLessThanOrEqual(121_000);
  });
});
