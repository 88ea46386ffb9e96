import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { NoSuchModelError } from "../errors/no-such-model-error.js";
import { ProviderError } from "../errors/provider-error.js";
import type { CallOptions } from "../language-model.js";
import { tinyModelPath, tinyModelThreads } from "./__fixtures__/tiny-model-path.js";
import { createLlamaCppProvider } from "./llama-cpp-provider.js";

const messages: CallOptions["messages"] = [{ role: "user", content: "Hi" }];

describe("createLlamaCppProvider", () => {
  const dir = mkdtempSync(join(tmpdir(), "noa-llama-provider-"));
  symlinkSync(tinyModelPath, join(dir, "alpha.gguf"));
  symlinkSync(tinyModelPath, join(dir, "beta.gguf"));
  const provider = createLlamaCppProvider({ modelsDir: dir, threads: tinyModelThreads, maxLoadedModels: 1 });
  afterAll(async () => {
    await provider.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lists each file with the trained context from its metadata, without loading it", async () => {
    expect(await provider.listModels()).toEqual(
      ["alpha", "beta"].map((stem) => ({
        id: `llama-cpp/${stem}`,
        provider: "llama-cpp",
        capabilities: ["chat", "completion", "streaming"],
        contextLength: 4096,
        loaded: false,
      })),
    );
    expect(provider.manager.stats().loaded).toEqual([]);
  });

  it("keeps at most maxLoadedModels in memory, unloading the least recently used", async () => {
    await provider.languageModel("alpha").generate({ messages, maxTokens: 2 });
    expect(provider.manager.isLoaded("alpha")).toBe(true);

    await provider.languageModel("beta").generate({ messages, maxTokens: 2 });
    expect(provider.manager.isLoaded("alpha")).toBe(false);
    expect(provider.manager.isLoaded("beta")).toBe(true);
    const loaded = (await provider.listModels()).map(({ id, loaded }) => ({ id, loaded }));
    expect(loaded).toEqual([
      { id: "llama-cpp/alpha", loaded: false },
      { id: "llama-cpp/beta", loaded: true },
    ]);
  });

  it("throws NoSuchModelError with the full id for an unknown model", () => {
    expect(() => provider.languageModel("nope")).toThrow(NoSuchModelError);
    expect(() => provider.languageModel("nope")).toThrow(
      expect.objectContaining({ modelId: "llama-cpp/nope" }),
    );
  });

  it("throws at creation for a named file that does not exist", () => {
    expect(() => createLlamaCppProvider({ modelPaths: ["/nonexistent/model.gguf"], threads: 1 })).toThrow(
      "does not exist",
    );
  });
});

describe("createLlamaCppProvider with a broken file", () => {
  const dir = mkdtempSync(join(tmpdir(), "noa-llama-broken-"));
  writeFileSync(join(dir, "broken.gguf"), "not a GGUF file\n");
  const provider = createLlamaCppProvider({ modelsDir: dir, threads: tinyModelThreads, contextSize: 512 });
  afterAll(async () => {
    await provider.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lists it with an unknown context length", async () => {
    expect(await provider.listModels()).toMatchObject([
      { id: "llama-cpp/broken", contextLength: 0, loaded: false },
    ]);
  });

  it("fails its requests with a non-retryable ProviderError", async () => {
    const request = provider.languageModel("broken").generate({ messages });
    await expect(request).rejects.toBeInstanceOf(ProviderError);
    await expect(request).rejects.toMatchObject({ isRetryable: false, provider: "llama-cpp" });
  });
});

describe("createLlamaCppProvider with a configured context size", () => {
  const provider = createLlamaCppProvider({
    modelPaths: [tinyModelPath],
    threads: tinyModelThreads,
    contextSize: 1024,
  });
  afterAll(() => provider.close());

  it("lists the configured context when it is below the trained one", async () => {
    expect(await provider.listModels()).toMatchObject([
      { id: "llama-cpp/llama-2-tiny-random", contextLength: 1024 },
    ]);
  });
});
