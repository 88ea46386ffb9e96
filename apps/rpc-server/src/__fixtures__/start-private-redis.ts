import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { vi } from "vitest";

/** A redis-server process of one test's own, which the test may stop and start again on the same port. */
export interface PrivateRedis {
  url: string;
  port: number;
  /** Where a persistent server keeps its append-only file (undefined: nothing persists). */
  dir: string | undefined;
  /** Kills the process (SIGKILL: no goodbye to its clients, as a crash or a lost machine). */
  stop(): Promise<void>;
  /**
   * Starts it again on the same port (and directory), and waits until it answers PING: empty, or with
   * every write it acknowledged before the kill when persistent.
   */
  start(): Promise<void>;
  /**
   * Stops the process (SIGSTOP) without closing anything: connections stay open and nothing answers, as
   * a hung server does, until `resume()` (SIGCONT), when it answers what it was sent meanwhile.
   */
  pause(): void;
  resume(): void;
  /** Stops it for good and removes its directory. */
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
 * comes back empty, as a Redis that lost its memory does. With `persistent`, it runs as production
 * BullMQ needs it (`--appendonly yes --appendfsync always` in a temporary directory of its own): every
 * write it acknowledged survives a SIGKILL and is there again after start(). Its breaker and rate-limit
 * channels are the test's own, so no other test's replicas hear them.
 */
export async function startPrivateRedis(options: { persistent?: boolean } = {}): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = options.persistent ? await mkdtemp(path.join(tmpdir(), "noa-faults-redis-")) : undefined;
  const persistence = dir
    ? ["--appendonly", "yes", "--appendfsync", "always", "--dir", dir]
    : ["--appendonly", "no"];
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    const process = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", ...persistence],
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

  async function close(): Promise<void> {
    child?.kill("SIGCONT");
    await stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }

  try {
    await start();
  } catch (error) {
    await close();
    throw error;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    stop,
    start,
    pause: () => child?.kill("SIGSTOP"),
    resume: () => child?.kill("SIGCONT"),
    close,
  };
}
