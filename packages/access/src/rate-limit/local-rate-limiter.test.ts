import { describe, expect, it } from "vitest";
import { createLocalRateLimiter } from "./local-rate-limiter.js";
import { describeRateLimiterContract } from "./rate-limiter-contract.js";

describeRateLimiterContract("createLocalRateLimiter", ({ defaults, now }) =>
  createLocalRateLimiter({ defaults, now }),
);

describe("createLocalRateLimiter", () => {
  const defaults = { requestBurst: 1, requestsPerSecond: 0.001, tokensPerMinute: 0 };

  it("forgets the least recently used key beyond maxKeys, which starts full again", async () => {
    const limiter = createLocalRateLimiter({ defaults, maxKeys: 2, now: () => 0 });
    await limiter.admit("a", {});
    await limiter.admit("b", {});
    expect((await limiter.admit("a", {})).allowed).toBe(false); // a is now the most recently used
    await limiter.admit("c", {}); // evicts b
    expect((await limiter.admit("a", {})).allowed).toBe(false);
    expect((await limiter.admit("b", {})).allowed).toBe(true);
  });

  it("refuses defaults that cannot work, at construction", () => {
    expect(() => createLocalRateLimiter({ defaults: { ...defaults, requestBurst: 0 } })).toThrow(RangeError);
    expect(() => createLocalRateLimiter({ defaults: { ...defaults, requestsPerSecond: 0 } })).toThrow(
      RangeError,
    );
    expect(() => createLocalRateLimiter({ defaults: { ...defaults, tokensPerMinute: -1 } })).toThrow(
      RangeError,
    );
  });

  it("takes the default for a per-key value that cannot work", async () => {
    const limiter = createLocalRateLimiter({ defaults: { ...defaults, requestBurst: 2 }, now: () => 0 });
    expect(await limiter.admit("k", { requestBurst: 0, requestsPerSecond: -1 })).toMatchObject({
      allowed: true,
      limit: 2,
    });
  });
});
