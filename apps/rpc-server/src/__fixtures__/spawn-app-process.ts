import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** The real composition roots, run as `pnpm start` / `pnpm start:worker` run them (startScriptNodeFlags). */
const entryPoints = {
  "rpc-server": fileURLToPath(new URL("../main.ts", import.meta.url)),
  worker: fileURLToPath(new URL("../../../worker/src/main.ts", import.meta.url)),
};
const readyLine = { "rpc-server": "rpc-server listening", worker: "worker started" };
/** An app's directory (its package.json's): where its start script runs. */
const appDir = (kind: keyof typeof entryPoints) => path.dirname(path.dirname(entryPoints[kind]));

/**
 * The Node flags an app's start script (`pnpm start`, `pnpm start:worker`: its package.json `start`)
 * gives node before its `--import`, such as rpc-server's young-generation size: processes started for
 * tests and benchmarks run with them, as the app ships.
 */
export function startScriptNodeFlags(kind: keyof typeof entryPoints): string[] {
  const manifest = path.join(appDir(kind), "package.json");
  const { scripts } = JSON.parse(readFileSync(manifest, "utf8")) as { scripts: { start: string } };
  const words = scripts.start.trim().split(/\s+/);
  const end = words.indexOf("--import");
  return words.slice(1, end === -1 ? undefined : end).filter((word) => word.startsWith("--"));
}

/** One rpc-server or worker process and what it has said. */
export interface AppProcess {
  name: string;
  kind: keyof typeof entryPoints;
  child: ChildProcess;
  /** The rpc-server's port (undefined for a worker). */
  port: number | undefined;
  /** Its JSON log lines so far. */
  logs: Array<Record<string, unknown>>;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  exited: Promise<number | string>;
  alive(): boolean;
  stderr(): string;
  /** Waits for a log line that matches; fails early, with stderr, if the process exits. */
  waitForLog(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** SIGTERM, then SIGKILL after `killAfterMs`; resolves once it has exited. */
  stop(killAfterMs?: number): Promise<void>;
}

/** What a spawned app's environment starts from: the shell's PATH and HOME, loopback, info logs, no tracing. */
export function baseAppEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    HOST: "127.0.0.1",
    LOG_LEVEL: "info",
    OTEL_SDK_DISABLED: "true",
  };
}

/**
 * Spawns `node <its start script's flags> --import @noa/runtime/register <app>/src/main.ts` with exactly
 * `env`, keeps its JSON log lines, and waits for its ready line ("rpc-server listening" / "worker started").
 */
export async function spawnAppProcess(options: {
  name: string;
  kind: keyof typeof entryPoints;
  env: NodeJS.ProcessEnv;
  startTimeoutMs?: number;
  /** Told of the child at once, before it is ready, so a caller can kill it whatever happens next. */
  onSpawn?: (child: ChildProcess) => void;
}): Promise<AppProcess> {
  const entry = entryPoints[options.kind];
  const args = [...startScriptNodeFlags(options.kind), "--import", "@noa/runtime/register", entry];
  const child = spawn(process.execPath, args, {
    cwd: appDir(options.kind),
    env: options.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  options.onSpawn?.(child);
  const logs: Array<Record<string, unknown>> = [];
  const waiters = new Set<() => void>();
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    try {
      logs.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      return;
    }
    for (const waiter of waiters) waiter();
  });
  const exited = once(child, "exit").then(([code, signal]: unknown[]) => {
    for (const waiter of waiters) waiter();
    return (code ?? signal ?? "unknown") as number | string;
  });
  const alive = () => child.exitCode === null && child.signalCode === null;

  function waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs = 30_000) {
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        const recent = logs.slice(-5).map((line) => JSON.stringify(line));
        reject(
          new Error(
            `${options.name}: no matching log line within ${timeoutMs} ms; last:\n${recent.join("\n")}`,
          ),
        );
      }, timeoutMs);
      const check = () => {
        const line = logs.find(match);
        if (line || !alive()) {
          clearTimeout(timer);
          waiters.delete(check);
          if (line) resolve(line);
          else
            reject(
              new Error(`${options.name} exited (${child.exitCode ?? child.signalCode}); stderr:\n${stderr}`),
            );
        }
      };
      waiters.add(check);
      check();
    });
  }

  async function stop(killAfterMs = 10_000) {
    if (!alive()) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
    await exited;
    clearTimeout(timer);
  }

  const started = { name: options.name, kind: options.kind, child, logs, exited, alive, waitForLog, stop };
  try {
    const ready = await waitForLog(
      (line) => line.msg === readyLine[options.kind],
      options.startTimeoutMs ?? 150_000,
    );
    const port = options.kind === "rpc-server" ? Number(String(ready.address).split(":").at(-1)) : undefined;
    return { ...started, port, stderr: () => stderr };
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
}
