import { randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import type { Logger } from "../auth/logger.js";
import { createFailoverRateLimiter } from "./failover-rate-limiter.js";
import { createLocalRateLimiter } from "./local-rate-limiter.js";
import type { RateLimiter } from "./rate-limiter.js";
import { createRedisRateLimiter } from "./redis-rate-limiter.js";

const defaults = { requestBurst: 2, requestsPerSecond: 0.001, tokensPerMinute: 0 };
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function recordingLogger() {
  const lines: { level: string; msg: string | undefined }[] = [];
  const at =
    (level: string) =>
    (_obj: object, msg?: string): void => {
      lines.push({ level, msg });
    };
  const logger: Logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  return { logger, lines };
}

/** A port nothing listens on: bound by the OS, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** A primary that can be switched off, counting the calls that reached it. */
function switchablePrimary() {
  const inner = createLocalRateLimiter({ defaults, now: () => 0 });
  const state = { down: false, hang: false, calls: 0 };
  const call = async <T>(run: () => Promise<T>): Promise<T> => {
    state.calls++;
    if (state.hang) return new Promise<T>(() => {});
    if (state.down) throw new Error("ECONNREFUSED");
    return run();
  };
  const primary: RateLimiter = {
    admit: (key, limits) => call(() => inner.admit(key, limits)),
    chargeTokens: (key, tokens, limits) => call(() => inner.chargeTokens(key, tokens, limits)),
  };
  return { primary, state };
}

describe("createFailoverRateLimiter", () => {
  it("shares limits through Redis while it is up", async () => {
    const prefix = `noa-test:rate-limit:${randomUUID()}:`;
    const replicas = [new Redis("redis://127.0.0.1:6379"), new Redis("redis://127.0.0.1:6379")];
    cleanups.push(async () => {
      const keys = await replicas[0]?.keys(`${prefix}*`);
      if (keys?.length) await replicas[0]?.del(...keys);
      await Promise.all(replicas.map((redis) => redis.quit()));
    });
    const [a, b] = replicas.map((redis) =>
      createFailoverRateLimiter({
        primary: createRedisRateLimiter({ redis, prefix, defaults }),
        fallback: createLocalRateLimiter({ defaults }),
        logger: recordingLogger().logger,
      }),
    );
    if (!a || !b) throw new Error("unreachable");

    const results = [await a.admit("k", {}), await b.admit("k", {}), await a.admit("k", {})];
    expect(results.map((result) => result.allowed)).toEqual([true, true, false]);
    expect(a.mode()).toBe("shared");
  });

  it("limits locally when Redis is down, logging the outage once", async () => {
    const redis = new Redis({
      port: await closedPort(),
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
    });
    redis.on("error", () => {});
    cleanups.push(() => redis.disconnect());
    const { logger, lines } = recordingLogger();
    const limiter = createFailoverRateLimiter({
      primary: createRedisRateLimiter({ redis, prefix: "noa-test:unused:", defaults }),
      fallback: createLocalRateLimiter({ defaults }),
      logger,
      retryIntervalMs: 0,
    });

    const results = [];
    for (let i = 0; i < 3; i++) results.push(await limiter.admit("k", {}));
    await limiter.chargeTokens("k", 10, {});

    expect(results.map((result) => result.allowed)).toEqual([true, true, false]);
    expect(limiter.mode()).toBe("local");
    expect(lines.filter((line) => line.level === "warn")).toHaveLength(1);
  });

  it("goes back to shared limits once a probe after retryIntervalMs succeeds", async () => {
    const clock = { now: 0 };
    const { primary, state } = switchablePrimary();
    const { logger, lines } = recordingLogger();
    const limiter = createFailoverRateLimiter({
      primary,
      fallback: createLocalRateLimiter({ defaults }),
      logger,
      retryIntervalMs: 1_000,
      now: () => clock.now,
    });

    state.down = true;
    await limiter.admit("k", {});
    await limiter.admit("k", {});
    expect(limiter.mode()).toBe("local");
    expect(state.calls).toBe(1); // the second call did not wait on a primary known to be down

    state.down = false;
    clock.now += 999;
    await limiter.admit("other", {});
    expect(limiter.mode()).toBe("local");
    clock.now += 1;
    await limiter.chargeTokens("other", 5, {}); // charges never probe: they may not reach the store at all
    expect(limiter.mode()).toBe("local");
    await limiter.admit("other", {});
    expect(limiter.mode()).toBe("shared");
    expect(lines.map((line) => line.level)).toEqual(["warn", "info"]);
  });

  it("answers locally when the primary does not answer in time", async () => {
    const { primary, state } = switchablePrimary();
    state.hang = true;
    const limiter = createFailoverRateLimiter({
      primary,
      fallback: createLocalRateLimiter({ defaults }),
      logger: recordingLogger().logger,
      timeoutMs: 10,
    });
    expect(await limiter.admit("k", {})).toMatchObject({ allowed: true, remaining: 1 });
    expect(limiter.mode()).toBe("local");
  });

  it("skips the primary while isHealthy says it is down", async () => {
    const { primary, state } = switchablePrimary();
    let healthy = false;
    const limiter = createFailoverRateLimiter({
      primary,
      fallback: createLocalRateLimiter({ defaults }),
      logger: recordingLogger().logger,
      isHealthy: () => healthy,
      retryIntervalMs: 0,
    });
    await limiter.admit("k", {});
    expect(state.calls).toBe(0);
    expect(limiter.mode()).toBe("local");
    healthy = true;
    await limiter.admit("k", {});
    expect(state.calls).toBe(1);
    expect(limiter.mode()).toBe("shared");
  });
});
