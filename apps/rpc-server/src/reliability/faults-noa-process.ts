import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { generateApiKey } from "@noa/access";
import { type AppProcess, spawnAppProcess } from "../__fixtures__/spawn-app-process.js";

/** An rpc-server process (`node --import @noa/runtime/register src/main.ts`, as `pnpm start` runs it) that a test drives. */
export interface NoaProcess {
  baseUrl: string;
  port: number;
  /** The NOA_MASTER_KEY it was started with (an admin key). */
  adminKey: string;
  /** How long it took from spawn to listening. */
  startMs: number;
  child: ChildProcess;
  /** Its JSON log lines so far. */
  logs: Array<Record<string, unknown>>;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  exited: Promise<number | string>;
  /** Sends SIGTERM and resolves with how long the process took to exit, and how. */
  terminate(): Promise<{ exitMs: number; code: number | string }>;
  /** Its stderr so far (for failure messages). */
  stderr(): string;
  /** SIGKILL if it is still running, then removes its data directory. */
  close(): Promise<void>;
}

/**
 * Starts the real rpc-server on a free port with `env` over a minimal environment (no llama model unless
 * asked, no inherited NOA_* or provider variables), writes `config` (when given) as its NOA_CONFIG file,
 * and waits for "rpc-server listening". The caller owns the database and Redis it points at.
 */
export async function spawnNoaProcess(options: {
  env: NodeJS.ProcessEnv & { DATABASE_URL: string; REDIS_URL: string };
  config?: object;
}): Promise<NoaProcess> {
  const dataDir = await mkdtemp(path.join(tmpdir(), "noa-faults-"));
  const adminKey = generateApiKey().key;
  const configPath = path.join(dataDir, "noa-config.json");
  if (options.config) await writeFile(configPath, JSON.stringify(options.config));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    HOST: "127.0.0.1",
    PORT: "0",
    NOA_DATA_DIR: dataDir,
    NOA_MODELS_DIR: path.join(dataDir, "models"),
    NOA_LLAMA_THREADS: "1",
    NOA_MASTER_KEY: adminKey,
    NOA_JOBS_PREFIX: `noa-faults-${path.basename(dataDir).replace(/[^\w-]/g, "")}`,
    NOA_WORKER_PORT: "off",
    LOG_LEVEL: "info",
    ...(options.config && { NOA_CONFIG: configPath }),
    ...options.env,
  };
  const spawnedAt = performance.now();
  const dispose = async (started?: AppProcess) => {
    if (started?.alive()) {
      started.child.kill("SIGKILL");
      await started.exited;
    }
    await rm(dataDir, { recursive: true, force: true });
  };
  let started: AppProcess;
  try {
    // Loading the app's modules takes seconds of CPU, many times that on a shared 2-core machine.
    started = await spawnAppProcess({
      name: "rpc-server",
      kind: "rpc-server",
      env,
      startTimeoutMs: 120_000,
    });
  } catch (error) {
    await dispose();
    throw error;
  }
  const { child, exited } = started;
  const port = started.port as number;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    port,
    adminKey,
    startMs: Math.round(performance.now() - spawnedAt),
    child,
    logs: started.logs,
    exited,
    stderr: started.stderr,
    async terminate() {
      const terminatedAt = performance.now();
      child.kill("SIGTERM");
      const code = await exited;
      return { exitMs: Math.round(performance.now() - terminatedAt), code };
    },
    close: () => dispose(started),
  };
}
