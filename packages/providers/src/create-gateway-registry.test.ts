import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  type AnthropicLoopbackServer,
  startAnthropicLoopbackServer,
} from "./anthropic/__fixtures__/anthropic-loopback-server.js";
import { createGatewayRegistry } from "./create-gateway-registry.js";
import { type ForwardProxy, startForwardProxy } from "./http/__fixtures__/start-forward-proxy.js";
import type { Logger } from "./logger.js";
import type { ModelRegistry } from "./model-registry.js";
import {
  OPENAI_LOOPBACK_API_KEY,
  startOpenAILoopbackServer,
} from "./openai/__fixtures__/openai-loopback-server.js";
import type { LoopbackServer } from "./testing/loopback-fault.js";

describe("createGatewayRegistry", () => {
  let openai: LoopbackServer | undefined;
  let anthropic: AnthropicLoopbackServer | undefined;
  let proxy: ForwardProxy | undefined;
  let registry: ModelRegistry | undefined;
  let modelsDir: string | undefined;
  afterEach(async () => {
    await registry?.close();
    await Promise.all([openai?.close(), anthropic?.close(), proxy?.close()]);
    if (modelsDir) rmSync(modelsDir, { recursive: true, force: true });
  });

  it("reaches OpenAI and Anthropic through the outbound proxy, and logs where it is but not its credentials", async () => {
    [openai, anthropic] = await Promise.all([startOpenAILoopbackServer(), startAnthropicLoopbackServer()]);
    proxy = await startForwardProxy({ requireAuthorization: `Basic ${btoa("noa:hunter2")}` });
    modelsDir = mkdtempSync(path.join(tmpdir(), "noa-models-"));
    const logger: Logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
    ({ registry } = createGatewayRegistry({
      localModelPath: undefined,
      modelsDir,
      llamaThreads: 1,
      maxLoadedModels: 1,
      sequencesPerModel: 1,
      openai: { apiKey: OPENAI_LOOPBACK_API_KEY, baseURL: openai.baseURL },
      anthropic: { apiKey: anthropic.apiKey, baseURL: anthropic.baseURL },
      proxy: { httpProxy: `http://noa:hunter2@127.0.0.1:${proxy.port}`, noProxy: "ollama.internal" },
      routing: undefined,
      logger,
    }));
    const messages = [{ role: "user" as const, content: "Tell me about the sea." }];
    const answers = await Promise.all(
      ["openai/gpt-4o-mini", "anthropic/claude-loopback"].map(
        async (id) => (await registry?.languageModel(id).generate({ messages, maxTokens: 3 }))?.text,
      ),
    );
    expect(answers).toEqual(["The sea is", "The sea is"]);
    expect(proxy.forwarded.map((request) => new URL(request.url).origin).sort()).toEqual(
      [new URL(openai.baseURL).origin, new URL(anthropic.baseURL).origin].sort(),
    );
    expect(openai.requests).toHaveLength(1);
    expect(anthropic.requests).toHaveLength(1);
    expect(logger.info).toHaveBeenCalledWith(
      { httpsProxy: undefined, httpProxy: `127.0.0.1:${proxy.port}`, noProxy: "ollama.internal" },
      "outbound proxy",
    );
    expect(JSON.stringify(vi.mocked(logger.info).mock.calls)).not.toContain("hunter2");
  });
});
