import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { createRedisSessionRevocations } from "./redis-session-revocations.js";

// Two connections, as two replicas would have.
const first = new Redis("redis://127.0.0.1:6379", { maxRetriesPerRequest: 1 });
const second = new Redis("redis://127.0.0.1:6379", { maxRetriesPerRequest: 1 });
const prefix = `noa-test:bff-revoked:${randomUUID()}:`;
afterAll(async () => {
  const keys = await first.keys(`${prefix}*`);
  if (keys.length > 0) await first.del(...keys);
  await Promise.all([first.quit(), second.quit()]);
});

describe("createRedisSessionRevocations", () => {
  it("shares a revocation with every replica, kept by Redis until the session would have expired", async () => {
    const now = Date.now();
    await createRedisSessionRevocations({ redis: first, prefix, now: () => now }).revoke("s1", now + 60_000);
    const other = createRedisSessionRevocations({ redis: second, prefix });
    expect(await other.isRevoked("s1")).toBe(true);
    expect(await other.isRevoked("s2")).toBe(false);
    const pttl = await first.pttl(`${prefix}s1`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(60_000);
  });

  it("stores nothing for a session that has already expired", async () => {
    const revocations = createRedisSessionRevocations({ redis: first, prefix });
    await revocations.revoke("gone", Date.now() - 1);
    expect(await first.exists(`${prefix}gone`)).toBe(0);
  });
});
