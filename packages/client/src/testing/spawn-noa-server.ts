import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { generateApiKey } from "@noa/access";
import { createTestDatabase } from "@noa/db/testing";
import { tinyModelPath } from "@noa/providers/testing";

/** A running rpc-server process for end-to-end tests of clients. */
export interface SpawnedNoaServer {
  baseUrl: string;
  port: number;
  /** The NOA_MASTER_KEY it was started with (an admin key). */
  adminKey: string;
  /** The served tiny model's id. */
  modelId: string;
  /** Its JSON log lines so far, parsed. */
  logs: Array<Record<string, unknown>>;
  /** Waits for a log line that matches, e.g. the `rpc` line of a cancelled call. */
  waitForLog(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** SIGTERM, wait for the exit, drop its database. */
  close(): Promise<void>;
}

const mainPath = fileURLToPath(new URL("./main.ts", import.meta.resolve("@noa/rpc-server/server")));
const workerMainPath = fileURLToPath(
  new URL("./src/main.ts", import.meta.resolve("@noa/worker/package.json")),
);

/**
 * Starts the real rpc-server (`apps/rpc-server/src/main.ts`, as `pnpm start` does) on a free port, on
 * a fresh PostgreSQL database, serving the tiny llama model with one thread, with a known admin key and
 * its own job queues (and, on request, a job worker).
 */
export async function spawnNoaServer(
  options: {
    env?: NodeJS.ProcessEnv;
    /** Also start the job worker (`apps/worker/src/main.ts`) on the same database and queues. */
    worker?: boolean;
  } = {},
): Promise<SpawnedNoaServer> {
  // The server applies the migrations itself on start, as in production; close() drops the database.
  const database = await createTestDatabase({ migrate: false });
  const dataDir = await mkdtemp(path.join(tmpdir(), "noa-server-"));
  const adminKey = generateApiKey().key;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    HOST: "127.0.0.1",
    PORT: "0",
    DATABASE_URL: database.url,
    NOA_DATA_DIR: dataDir,
    NOA_MODELS_DIR: path.join(dataDir, "models"),
    NOA_LOCAL_MODEL_PATH: tinyModelPath,
    NOA_LLAMA_THREADS: "1",
    NOA_MASTER_KEY: adminKey,
    NOA_SHUTDOWN_GRACE_MS: "0",
    // Its own BullMQ queues in the shared Redis: no other test or worker takes its jobs.
    NOA_JOBS_PREFIX: `noa-test-${path.basename(dataDir).replace(/[^\w-]/g, "")}`,
    LOG_LEVEL: "info",
    NOA_WORKER_PORT: "off",
    ...options.env,
  };
  const child = spawn(process.execPath, ["--import", "@noa/runtime/register", mainPath], {
    cwd: path.dirname(mainPath),
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  // The worker's own log lines are not kept; its stderr is, for failures.
  const worker = options.worker
    ? spawn(process.execPath, ["--import", "@noa/runtime/register", workerMainPath], {
        cwd: path.dirname(workerMainPath),
        env,
        stdio: ["ignore", "ignore", "pipe"],
      })
    : undefined;
  const workerExited = worker
    ? new Promise<void>((resolve) => worker.once("exit", () => resolve()))
    : Promise.resolve();
  const logs: Array<Record<string, unknown>> = [];
  const waiters = new Set<() => void>();
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    try {
      logs.push(JSON.parse(line));
    } catch {
      return;
    }
    for (const waiter of waiters) waiter();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  async function waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs = 30_000) {
    const found = logs.find(match);
    if (found) return found;
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        const recent = logs.slice(-5).map((line) => JSON.stringify(line));
        reject(
          new Error(
            `no matching server log line within ${timeoutMs} ms; the last ones:\n${recent.join("\n")}`,
          ),
        );
      }, timeoutMs);
      const check = () => {
        const line = logs.find(match);
        if (!line) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(line);
      };
      waiters.add(check);
      void exited.then(() => {
        if (!waiters.has(check)) return;
        clearTimeout(timer);
        waiters.delete(check);
        reject(new Error(`the server exited (code ${child.exitCode}); stderr:\n${stderr}`));
      });
    });
  }

  async function close() {
    if (worker) await stop(worker, workerExited);
    await stop(child, exited);
    await rm(dataDir, { recursive: true, force: true });
    await database.close();
  }

  try {
    const listening = await waitForLog((line) => line.msg === "rpc-server listening", 60_000);
    const port = Number(String(listening.address).split(":").at(-1));
    return {
      baseUrl: `http://127.0.0.1:${port}`,
      port,
      adminKey,
      modelId: "llama-cpp/llama-2-tiny-random",
      logs,
      waitForLog,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

async function stop(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}
