import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "vite";

const configFile = fileURLToPath(new URL("../../playground/vite.config.ts", import.meta.url));

/** Builds the playground with Vite into a fresh temporary directory, so a test never serves a stale build. */
export async function buildPlayground(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), "noa-playground-"));
  await build({ configFile, logLevel: "silent", build: { outDir: dir, emptyOutDir: true } });
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
