import { readdirSync, statSync } from "node:fs";
import { basename, extname, join, resolve } from "node:path";

/** A local GGUF model file; `id` is the file stem, e.g. `llama-2-tiny-random`. */
export interface GgufModelFile {
  id: string;
  path: string;
}

/** Where to look for GGUF files: files named one by one, and/or a directory scanned for `*.gguf`. */
export interface FindGgufModelsOptions {
  modelPaths?: readonly string[];
  modelsDir?: string;
}

/**
 * The GGUF files to serve: each named file (which must exist) then every `*.gguf` in `modelsDir`
 * (a missing dir gives none); the first file of a stem wins. Synchronous because it runs once at
 * startup and `Provider.languageModel` must answer synchronously from the result.
 */
export function findGgufModels({ modelPaths = [], modelsDir }: FindGgufModelsOptions): GgufModelFile[] {
  const found = new Map<string, GgufModelFile>();
  const add = (path: string) => {
    const id = basename(path, extname(path));
    if (!found.has(id)) found.set(id, { id, path: resolve(path) });
  };

  for (const path of modelPaths) {
    if (!isFile(path)) throw new Error(`GGUF model file "${path}" does not exist or is not a file`);
    add(path);
  }
  for (const name of listDir(modelsDir)) {
    const path = join(modelsDir ?? "", name);
    if (name.toLowerCase().endsWith(".gguf") && isFile(path)) add(path);
  }
  return [...found.values()];
}

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}

function listDir(dir: string | undefined): string[] {
  if (dir === undefined) return [];
  try {
    // Sorted so that which file wins a duplicate stem does not depend on the file system.
    return readdirSync(dir).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}
