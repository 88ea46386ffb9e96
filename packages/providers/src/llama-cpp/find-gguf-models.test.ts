import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findGgufModels } from "./find-gguf-models.js";

describe("findGgufModels", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "noa-gguf-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const touch = (...parts: string[]) => {
    const path = join(dir, ...parts);
    writeFileSync(path, "");
    return path;
  };

  it("lists every *.gguf file of the directory by stem, skipping other files and directories", () => {
    const models = join(dir, "models");
    mkdirSync(models);
    mkdirSync(join(models, "folder.gguf"));
    const b = touch("models", "b-model.gguf");
    const a = touch("models", "a-model.GGUF");
    touch("models", "notes.txt");
    expect(findGgufModels({ modelsDir: models })).toEqual([
      { id: "a-model", path: a },
      { id: "b-model", path: b },
    ]);
  });

  it("puts the named files first, and the first file of a stem wins", () => {
    mkdirSync(join(dir, "models"));
    mkdirSync(join(dir, "elsewhere"));
    const named = touch("elsewhere", "same.gguf");
    touch("models", "same.gguf");
    const other = touch("models", "other.gguf");
    expect(findGgufModels({ modelPaths: [named], modelsDir: join(dir, "models") })).toEqual([
      { id: "same", path: named },
      { id: "other", path: other },
    ]);
  });

  it("gives no models for a missing directory or no options", () => {
    expect(findGgufModels({ modelsDir: join(dir, "missing") })).toEqual([]);
    expect(findGgufModels({})).toEqual([]);
  });

  it("throws a clear error for a named file that does not exist", () => {
    const missing = join(dir, "missing.gguf");
    expect(() => findGgufModels({ modelPaths: [missing] })).toThrow(
      `GGUF model file "${missing}" does not exist`,
    );
  });
});
