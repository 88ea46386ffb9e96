import { afterEach, describe, expect, it } from "vitest";
import { NoSuchModelError } from "../errors/no-such-model-error.js";
import type { LoopbackServer } from "../testing/loopback-fault.js";
import { OPENAI_LOOPBACK_API_KEY, startOpenAILoopbackServer } from "./__fixtures__/openai-loopback-server.js";
import { createOpenAIProvider, OPENAI_DEFAULT_MODELS } from "./openai-provider.js";

const messages = [{ role: "user" as const, content: "Tell me about the sea." }];

describe("createOpenAIProvider", () => {
  let server: LoopbackServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("lists well-known chat models by default as openai/<id>, loaded and streaming", async () => {
    const provider = createOpenAIProvider({ apiKey: "sk-unused-0000000000" });
    const models = await provider.listModels();
    expect(provider.id).toBe("openai");
    expect(models.map((model) => model.id)).toEqual(OPENAI_DEFAULT_MODELS.map((id) => `openai/${id}`));
    expect(models.map((model) => model.id)).toContain("openai/gpt-4o-mini");
    expect(models[0]).toEqual({
      id: "openai/gpt-4o-mini",
      provider: "openai",
      capabilities: ["chat", "streaming"],
      contextLength: 0,
      loaded: true,
    });
  });

  it("fronts an OpenAI-compatible server at baseURL with its own model ids", async () => {
    server = await startOpenAILoopbackServer({ models: ["qwen2.5:0.5b"] });
    const provider = createOpenAIProvider({
      apiKey: OPENAI_LOOPBACK_API_KEY,
      baseURL: server.baseURL,
      models: ["qwen2.5:0.5b"],
    });
    expect((await provider.listModels()).map((model) => model.id)).toEqual(["openai/qwen2.5:0.5b"]);
    const result = await provider.languageModel("qwen2.5:0.5b").generate({ messages, maxTokens: 3 });
    expect(result).toMatchObject({ text: "The sea is", finishReason: "length" });
    expect(provider.languageModel("any-unlisted-id").modelId).toBe("any-unlisted-id");
    await provider.close();
  });

  it("sends its requests through the fetch it is given", async () => {
    server = await startOpenAILoopbackServer();
    const urls: string[] = [];
    const provider = createOpenAIProvider({
      apiKey: OPENAI_LOOPBACK_API_KEY,
      baseURL: server.baseURL,
      fetch: (input, init) => {
        urls.push(String(input));
        return fetch(input, init);
      },
    });
    await provider.languageModel("gpt-4o").generate({ messages, maxTokens: 2 });
    expect(urls).toEqual([`${server.baseURL}/chat/completions`]);
  });

  it("refuses an empty model id or API key", () => {
    expect(() => createOpenAIProvider({ apiKey: "" })).toThrow(/apiKey/);
    expect(() => createOpenAIProvider({ apiKey: "sk-unused-0000000000" }).languageModel("")).toThrow(
      NoSuchModelError,
    );
  });

  it("hands the SDK's warnings to the logger it is given, not to the console", async () => {
    server = await startOpenAILoopbackServer();
    const logged: { level: string; msg: string | undefined }[] = [];
    const record = (level: string) => (_: object, msg?: string) => logged.push({ level, msg });
    const provider = createOpenAIProvider({
      apiKey: OPENAI_LOOPBACK_API_KEY,
      baseURL: server.baseURL,
      logger: { debug: record("debug"), info: record("info"), warn: record("warn"), error: record("error") },
    });
    server.enqueueFaults({ kind: "malformed-sse" });
    const stream = provider.languageModel("gpt-4o").stream({ messages });
    await expect(
      (async () => {
        for await (const _ of stream) {
        }
      })(),
    ).rejects.toMatchObject({ isRetryable: true });
    expect(logged.some((entry) => entry.level === "error" && /JSON/.test(entry.msg ?? ""))).toBe(true);
  });
});
