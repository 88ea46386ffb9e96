import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { generateApiKey } from "@noa/access";
import { createTestDatabase } from "@noa/db/testing";
import { tinyModelPath } from "@noa/providers/testing";
import { type AppProcess, spawnAppProcess } from "@noa/rpc-server/spawn-app-process";

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
  let server: AppProcess | undefined;
  let worker: AppProcess | undefined;
  async function close() {
    await worker?.stop();
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
    await database.close();
  }

  try {
    // Both start at once; each is kept as soon as it is up, so that close() stops it whatever else failed.
    const failed = (
      await Promise.allSettled([
        spawnAppProcess({ name: "rpc-server", kind: "rpc-server", env, startTimeoutMs: 120_000 }).then(
          (started) => {
            server = started;
          },
        ),
        options.worker &&
          spawnAppProcess({ name: "worker", kind: "worker", env }).then((started) => {
            worker = started;
          }),
      ])
    ).find((result) => result.status === "rejected");
    if (failed) throw failed.reason;
    if (!server) throw new Error("rpc-server did not start");
    const port = server.port as number;
    return {
      baseUrl: `http://127.0.0.1:${port}`,
      port,
      adminKey,
      modelId: "llama-cpp/llama-2-tiny-random",
      logs: server.logs,
      waitForLog: server.waitForLog,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
