import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createTestDatabase } from "@noa/db/testing";
// rpc-server's fixtures: the Redis its reliability suites stop and start, and the real main.ts as a process.
import { freePort, startPrivateRedis } from "@noa/rpc-server/private-redis";
import { baseAppEnv, spawnAppProcess } from "@noa/rpc-server/spawn-app-process";
import { afterEach, describe, expect, it, vi } from "vitest";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** GET /health/ready: its status and which dependencies it names as down. */
async function readiness(port: number) {
  const response = await fetch(`http://127.0.0.1:${port}/health/ready`, {
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await response.json()) as { dependencies?: Record<string, { status: string }> };
  const down = Object.entries(body.dependencies ?? {})
    .filter(([, state]) => state.status !== "ok")
    .map(([name]) => name);
  return { status: response.status, down };
}

describe("the worker process while Redis is unreachable", () => {
  it("logs the outage once (address and code, no stack) instead of every reconnection, stays not ready meanwhile, and says when Redis is back", {
    timeout: 180_000,
  }, async () => {
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.close());
    const database = await createTestDatabase({ migrate: false });
    cleanups.push(() => database.close());
    const dataDir = await mkdtemp(path.join(tmpdir(), "noa-worker-outage-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    await mkdir(path.join(dataDir, "models"));
    const port = await freePort();
    const worker = await spawnAppProcess({
      name: "worker",
      kind: "worker",
      env: {
        ...baseAppEnv(),
        DATABASE_URL: database.url,
        REDIS_URL: redis.url,
        NOA_JOBS_PREFIX: `noa-outage-${randomBytes(5).toString("hex")}`,
        NOA_DATA_DIR: dataDir,
        NOA_MODELS_DIR: path.join(dataDir, "models"),
        NOA_WEBHOOK_SECRET: "whsec_outage_0123456789abcdef0123456789abcdef",
        NOA_WORKER_PORT: String(port),
        NOA_SHUTDOWN_GRACE_MS: "1000",
        NOA_WEBHOOK_TIMEOUT_MS: "1000",
      },
    });
    cleanups.push(() => worker.stop());
    expect(await readiness(port)).toEqual({ status: 200, down: [] });

    // Redis goes away: its port refuses. The worker's connections and both BullMQ workers keep retrying.
    await redis.stop();
    const address = `127.0.0.1:${redis.port}`;
    await worker.waitForLog((line) => Number(line.level) >= 50);
    // Two readiness answers (each waits for its Redis ping to time out): many reconnection attempts.
    for (let probe = 0; probe < 2; probe++)
      expect(await readiness(port)).toEqual({ status: 503, down: ["redis"] });

    const problems = worker.logs.filter((line) => Number(line.level) >= 40);
    expect(problems).toEqual([
      expect.objectContaining({
        level: 50,
        redis: address,
        code: "ECONNREFUSED",
        msg: `Redis at ${address} is unreachable (ECONNREFUSED): jobs wait until it is back`,
      }),
    ]);
    expect(problems[0]).not.toHaveProperty("err");

    // Back: one line says so, and the worker is ready again.
    await redis.start();
    await worker.waitForLog((line) => line.level === 30 && line.redis === address);
    await vi.waitFor(async () => expect(await readiness(port)).toEqual({ status: 200, down: [] }));
    expect(worker.logs.filter((line) => line.redis === address).map((line) => line.msg)).toEqual([
      `Redis at ${address} is unreachable (ECONNREFUSED): jobs wait until it is back`,
      expect.stringMatching(new RegExp(`^Redis at ${address} is reachable again after \\d+ s$`)),
    ]);
    expect(worker.logs.filter((line) => line.msg === "worker error")).toEqual([]);

    // SIGTERM while Redis is gone again: BullMQ's own close would wait for Redis for ever; the workers are
    // closed without it once the grace period (1 s here) is over, and the process stops cleanly, before
    // its shutdown deadline (grace, webhook timeout and a 5 s margin) would end it with exit 1.
    await redis.stop();
    await vi.waitFor(async () => expect((await readiness(port)).status).toBe(503));
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
    expect(worker.logs.map((line) => line.msg)).toEqual(
      expect.arrayContaining(["Redis is unreachable: job workers closed without waiting for it", "stopped"]),
    );
    expect(worker.logs.map((line) => line.msg)).not.toContain(
      "shutdown did not finish in time (Redis unreachable, or a span export still waiting): exiting now",
    );
  });
});
