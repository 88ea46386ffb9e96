import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const fileName = "llama-2-tiny-random.gguf";
const defaultLocations = [
  // <repo root>/../shared/models, then this machine's shared models.
  fileURLToPath(new URL(`../../../../../../shared/models/${fileName}`, import.meta.url)),
  `/work/shared/models/${fileName}`,
];

function findTinyModel(): string {
  // An explicit path is taken as is, so a wrong one fails loudly at load instead of falling back.
  const explicit = process.env.NOA_TEST_MODEL_PATH;
  if (explicit) return explicit;
  const found = defaultLocations.find((path) => existsSync(path));
  if (!found) {
    throw new Error(
      `test model ${fileName} not found; set NOA_TEST_MODEL_PATH or put it at ${defaultLocations.join(" or ")}`,
    );
  }
  return found;
}

/** The 1.7 MB random-weights Llama 2 GGUF that tests here, in the rpc-server and in benchmarks run for real. */
export const tinyModelPath: string = findTinyModel();

/**
 * Threads for the tiny model: one. Its per-token work is so small that on a 2-core machine a second
 * ggml thread only spin-waits against Node's own thread (measured: ~1,200 tokens/s with 1, ~80 with 2).
 */
export const tinyModelThreads = 1;
