import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const cli = createRequire(import.meta.url).resolve("prisma/build/index.js");
const packageDir = fileURLToPath(new URL("..", import.meta.url));

/** Output and exit code of one Prisma CLI run. */
export interface PrismaRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the Prisma 6 CLI from @noa/db (so it loads prisma.config.ts: WebAssembly engines, patched
 * adapter) against `databaseUrl`, with telemetry off: no command reaches the network.
 */
export function runPrisma(args: string[], databaseUrl: string): Promise<PrismaRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: packageDir,
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        CHECKPOINT_DISABLE: "1",
        PRISMA_HIDE_UPDATE_MESSAGE: "1",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}
