import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { Redis } from "ioredis";
import { vi } from "vitest";

/** A redis-server process of one test's own, which the test may stop and start again on the same port. */
export interface PrivateRedis {
  url: string;
  port: number;
  /** Kills the process (SIGKILL: no goodbye to its clients, as a crash or a lost machine). */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty, and waits until it answers PING. */
  start(): Promise<void>;
  /** Stops it for good. */
  close(): Promise<void>;
}

/** A port that was free a moment ago (the listener is closed before it is returned). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/**
 * `redis-server --port <free> --save "" --appendonly no` on loopback: nothing persists, so a restart
 * comes back empty, as a Redis that lost its memory does. Its breaker and rate-limit channels are the
 * test's own, so no other test's replicas hear them.
 */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    const process = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      { stdio: "ignore" },
    );
    child = process;
    await vi.waitFor(
      async () => {
        if (process.exitCode !== null) throw new Error(`redis-server exited with ${process.exitCode}`);
        const probe = new Redis(port, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 0 });
        probe.on("error", () => {});
        try {
          await probe.connect();
          await probe.ping();
        } finally {
          probe.disconnect();
        }
      },
      { timeout: 20_000, interval: 50 },
    );
  }

  async function stop(): Promise<void> {
    const process = child;
    child = undefined;
    if (!process || process.exitCode !== null || process.signalCode !== null) return;
    const exited = once(process, "exit");
    process.kill("SIGKILL");
    await exited;
  }

  await start();
  return { url: `redis://127.0.0.1:${port}`, port, stop, start, close: stop };
}
