import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createTestDatabase } from "@noa/db/testing";
import { afterEach, describe, expect, it } from "vitest";
import { baseAppEnv, spawnAppProcess, startScriptNodeFlags } from "./__fixtures__/spawn-app-process.js";
import { freePort, startPrivateRedis } from "./__fixtures__/start-private-redis.js";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("rpc-server's main", () => {
  it("exits 1, saying why, when it cannot start (its port is taken), instead of staying alive", async () => {
    const taken = createServer();
    taken.listen(0, "127.0.0.1");
    await once(taken, "listening");
    cleanups.push(() => new Promise((resolve) => taken.close(resolve)));
    const { port } = taken.address() as { port: number };
    const database = await createTestDatabase();
    cleanups.push(() => database.close());
    const dataDir = await mkdtemp(path.join(tmpdir(), "noa-main-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));

    const entry = fileURLToPath(new URL("./main.ts", import.meta.url));
    const child = spawn(
      process.execPath,
      [...startScriptNodeFlags("rpc-server"), "--import", "@noa/runtime/register", entry],
      {
        cwd: path.dirname(path.dirname(entry)),
        env: {
          ...baseAppEnv(),
          PORT: String(port),
          DATABASE_URL: database.url,
          REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
          NOA_DATA_DIR: dataDir,
          NOA_MODELS_DIR: dataDir,
        },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const [code] = (await once(child, "exit")) as [number | null];
    clearTimeout(timer);
    expect(stderr).toContain("EADDRINUSE");
    expect(code, "killed after 30 s: it did not exit by itself").toBe(1);
  });

  it("stops cleanly soon after its grace period when SIGTERM comes while Redis is unreachable, instead of waiting for Redis", {
    timeout: 60_000,
  }, async () => {
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.close());
    const database = await createTestDatabase();
    cleanups.push(() => database.close());
    const dataDir = await mkdtemp(path.join(tmpdir(), "noa-main-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const server = await spawnAppProcess({
      name: "rpc-server",
      kind: "rpc-server",
      env: {
        ...baseAppEnv(),
        PORT: String(await freePort()),
        DATABASE_URL: database.url,
        REDIS_URL: redis.url,
        NOA_DATA_DIR: dataDir,
        NOA_MODELS_DIR: dataDir,
        NOA_SHUTDOWN_GRACE_MS: "1000",
      },
    });
    cleanups.push(() => server.stop());

    await redis.stop();
    const stoppedAt = performance.now();
    server.child.kill("SIGTERM");
    // Nothing waits for Redis (the breaker and job events' unsubscribes used to, for ever, until the 5 s
    // margin ended the process with 1).
    expect(await server.exited).toBe(0);
    expect(performance.now() - stoppedAt).toBeLessThan(15_000);
    expect(server.logs).toContainEqual(expect.objectContaining({ msg: "stopped" }));
    expect(server.logs).not.toContainEqual(
      expect.objectContaining({ msg: expect.stringContaining("shutdown did not finish in time") }),
    );
  });
});
