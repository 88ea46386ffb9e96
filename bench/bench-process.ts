import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startScriptNodeFlags } from "@noa/rpc-server/spawn-app-process";

/**
 * The Node flags rpc-server's start script (`pnpm start`) runs NOA with, besides its `--import`: the
 * benchmarks run their NOA process with them, so that they measure NOA as it ships.
 */
export const rpcServerNodeFlags: string[] = startScriptNodeFlags("rpc-server");

/** A benchmark process's arguments, Node flags and environment (added to this process's). */
export interface BenchProcessOptions {
  args?: string[];
  execArgv?: string[];
  env?: NodeJS.ProcessEnv;
}

/** Starts one of the benchmark's processes (a TypeScript file beside this one, through @noa/runtime), with IPC. */
export function startBenchProcess(script: string, options: BenchProcessOptions = {}): ChildProcess {
  return fork(fileURLToPath(new URL(script, import.meta.url)), options.args ?? [], {
    execArgv: ["--import", "@noa/runtime/register", ...(options.execArgv ?? [])],
    ...(options.env && { env: { ...process.env, ...options.env } }),
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
}

/** Starts a NOA process of the benchmarks' (rest-gateway.ts, or another version of it) with rpcServerNodeFlags. */
export function startGatewayProcess(script: string, options: BenchProcessOptions = {}): ChildProcess {
  return startBenchProcess(script, {
    ...options,
    execArgv: [...rpcServerNodeFlags, ...(options.execArgv ?? [])],
  });
}

/** Sends a message (if any) and waits for the child's next message; rejects on `{type: "error"}` or exit. */
export function nextMessage<T>(child: ChildProcess, message?: object): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`a benchmark process exited (${code})`));
    child.once("exit", onExit);
    child.once("message", (reply: T & { type?: string; message?: string }) => {
      child.off("exit", onExit);
      if (reply.type === "error") reject(new Error(reply.message));
      else resolve(reply);
    });
    if (message) child.send(message);
  });
}
