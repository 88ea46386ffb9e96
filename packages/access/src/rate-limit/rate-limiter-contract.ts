import { describe, expect, it } from "vitest";
import type { KeyLimits } from "../auth/principal.js";
import type { AdmitResult, RateLimitDefaults, RateLimiter } from "./rate-limiter.js";

/** Builds a fresh limiter (its own key space) on the given defaults and clock. */
export type CreateLimiterForContract = (options: {
  defaults: RateLimitDefaults;
  now: () => number;
}) => RateLimiter;

/** The behaviour every `RateLimiter` must show, run against the Redis and the in-memory limiter alike, so failover changes nothing but scope. */
export function describeRateLimiterContract(name: string, create: CreateLimiterForContract): void {
  function setup(defaults: Partial<RateLimitDefaults> = {}) {
    const clock = { now: 1_750_000_000_000 };
    const limiter = create({
      defaults: { requestBurst: 3, requestsPerSecond: 2, tokensPerMinute: 0, ...defaults },
      now: () => clock.now,
    });
    const admitMany = async (key: string, count: number, limits: KeyLimits = {}) => {
      const results: AdmitResult[] = [];
      for (let i = 0; i < count; i++) results.push(await limiter.admit(key, limits));
      return results;
    };
    const allowedCount = (results: AdmitResult[]) => results.filter((result) => result.allowed).length;
    return { clock, limiter, admitMany, allowedCount };
  }

  describe(`${name} (RateLimiter contract)`, () => {
    it("admits a burst of requestBurst, then refuses with the time until a request token is back", async () => {
      const { admitMany } = setup();
      expect(await admitMany("k", 4)).toEqual([
        { allowed: true, remaining: 2, limit: 3, resetMs: 500 },
        { allowed: true, remaining: 1, limit: 3, resetMs: 1000 },
        { allowed: true, remaining: 0, limit: 3, resetMs: 1500 },
        { allowed: false, retryAfterMs: 500, limit: 3, reason: "requests" },
      ]);
    });

    it("refills at requestsPerSecond and never beyond requestBurst", async () => {
      const { clock, admitMany, allowedCount } = setup();
      await admitMany("k", 3);
      clock.now += 1_000;
      expect(allowedCount(await admitMany("k", 5))).toBe(2);
      clock.now += 60_000;
      expect(allowedCount(await admitMany("k", 5))).toBe(3);
    });

    it("takes nothing from a refused request, so retryAfterMs counts down", async () => {
      const { clock, limiter, admitMany } = setup();
      await admitMany("k", 3);
      clock.now += 250;
      expect(await limiter.admit("k", {})).toMatchObject({ allowed: false, retryAfterMs: 250 });
      clock.now += 250;
      expect(await limiter.admit("k", {})).toMatchObject({ allowed: true, remaining: 0 });
    });

    it("charges tokens after the response: a negative budget refuses until it has refilled to zero", async () => {
      const { clock, limiter } = setup({ requestBurst: 100, tokensPerMinute: 600 });
      expect((await limiter.admit("k", {})).allowed).toBe(true);
      await limiter.chargeTokens("k", 900, {});
      expect(await limiter.admit("k", {})).toEqual({
        allowed: false,
        retryAfterMs: 30_000,
        limit: 600,
        reason: "tokens",
      });
      clock.now += 29_000;
      expect((await limiter.admit("k", {})).allowed).toBe(false);
      clock.now += 1_000;
      expect((await limiter.admit("k", {})).allowed).toBe(true);
    });

    it("admits while the token budget is exactly zero, refuses once it is below", async () => {
      const { limiter } = setup({ requestBurst: 100, tokensPerMinute: 600 });
      await limiter.chargeTokens("k", 600, {});
      expect((await limiter.admit("k", {})).allowed).toBe(true);
      await limiter.chargeTokens("k", 1, {});
      expect(await limiter.admit("k", {})).toMatchObject({ allowed: false, reason: "tokens" });
    });

    it("with checkTokens false, takes a request despite a spent token budget and keeps the debt", async () => {
      const { clock, limiter } = setup({ requestBurst: 100, tokensPerMinute: 600 });
      await limiter.chargeTokens("k", 900, {});
      expect(await limiter.admit("k", {}, { checkTokens: false })).toMatchObject({
        allowed: true,
        remaining: 99,
      });
      // Long after the request bucket is full again, the token debt is still there (no early expiry).
      clock.now += 10_000;
      expect(await limiter.admit("k", {})).toMatchObject({
        allowed: false,
        reason: "tokens",
        retryAfterMs: 20_000,
      });
      const small = setup({ requestBurst: 1, requestsPerSecond: 1 });
      await small.limiter.admit("k", {}, { checkTokens: false });
      expect(await small.limiter.admit("k", {}, { checkTokens: false })).toMatchObject({
        allowed: false,
        reason: "requests",
      });
    });

    it("treats a tokensPerMinute of 0 as no token limit", async () => {
      const { limiter } = setup({ tokensPerMinute: 0 });
      await limiter.chargeTokens("k", 1e9, {});
      expect((await limiter.admit("k", {})).allowed).toBe(true);
    });

    it("takes each limit the key sets over the default, and the default for the others", async () => {
      const { limiter, admitMany, allowedCount } = setup({
        requestBurst: 100,
        requestsPerSecond: 1,
        tokensPerMinute: 1_000,
      });
      const small = await admitMany("small", 3, { requestBurst: 2 });
      expect(allowedCount(small)).toBe(2);
      expect(small[2]).toMatchObject({ allowed: false, limit: 2, reason: "requests", retryAfterMs: 1_000 });
      expect(await limiter.admit("default", {})).toMatchObject({ allowed: true, limit: 100, remaining: 99 });

      await limiter.chargeTokens("tight", 200, { tokensPerMinute: 100 });
      expect(await limiter.admit("tight", { tokensPerMinute: 100 })).toMatchObject({
        allowed: false,
        limit: 100,
        reason: "tokens",
        retryAfterMs: 60_000,
      });
      await limiter.chargeTokens("unlimited", 1e9, { tokensPerMinute: 0 });
      expect((await limiter.admit("unlimited", { tokensPerMinute: 0 })).allowed).toBe(true);
      await limiter.chargeTokens("inherits", 2_000, {});
      expect(await limiter.admit("inherits", {})).toMatchObject({ allowed: false, limit: 1_000 });
    });

    it("keeps keys apart", async () => {
      const { limiter, admitMany } = setup();
      await admitMany("a", 3);
      await limiter.chargeTokens("a", 10, { tokensPerMinute: 5 });
      expect((await limiter.admit("a", {})).allowed).toBe(false);
      expect(await limiter.admit("b", { tokensPerMinute: 5 })).toMatchObject({ allowed: true, remaining: 2 });
    });

    it("when both budgets are out, asks the caller to wait for the later one", async () => {
      const { limiter } = setup({ requestBurst: 1, requestsPerSecond: 1, tokensPerMinute: 600 });
      await limiter.admit("long-tokens", {});
      await limiter.chargeTokens("long-tokens", 1_200, {});
      expect(await limiter.admit("long-tokens", {})).toEqual({
        allowed: false,
        retryAfterMs: 60_000,
        limit: 600,
        reason: "tokens",
      });
      await limiter.admit("short-tokens", {});
      await limiter.chargeTokens("short-tokens", 6, {});
      expect(await limiter.admit("short-tokens", {})).toEqual({
        allowed: false,
        retryAfterMs: 1_000,
        limit: 1,
        reason: "requests",
      });
    });

    it("ignores charges of zero, negative or non-finite token counts", async () => {
      const { limiter } = setup({ requestBurst: 100, tokensPerMinute: 600 });
      await limiter.chargeTokens("k", 600, {});
      for (const tokens of [0, -50, Number.NaN, Number.POSITIVE_INFINITY]) {
        await limiter.chargeTokens("k", tokens, {});
      }
      expect((await limiter.admit("k", {})).allowed).toBe(true);
    });
  });
}
