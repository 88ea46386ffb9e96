import { describe, expect, it } from "vitest";
import { NoSuchModelError } from "../errors/no-such-model-error.js";
import { ProviderError } from "../errors/provider-error.js";
import type { AttemptEvent, ModelInfo, Provider } from "../language-model.js";
import { createModelRegistry } from "../model-registry.js";
import { createFakeLanguageModel, type FakeBehaviour } from "../testing/fake-language-model.js";
import { createRouter } from "./create-router.js";
import { parseRoutingConfig } from "./routing-config.js";

const messages = [{ role: "user" as const, content: "hi" }];
const overloaded = new ProviderError("503", { provider: "a", statusCode: 503, isRetryable: true });

function fakeProvider(id: string, behaviours: FakeBehaviour[]): Provider & { calls: () => number } {
  const fake = createFakeLanguageModel(id, "m", behaviours);
  return {
    id,
    calls: () => fake.state.calls,
    async listModels(): Promise<ModelInfo[]> {
      return [{ id: `${id}/m`, provider: id, capabilities: ["chat"], contextLength: 0, loaded: true }];
    },
    languageModel(modelId) {
      if (modelId !== "m") throw new NoSuchModelError(`${id}/${modelId}`);
      return fake.model;
    },
    async close() {},
  };
}

function setup(a: FakeBehaviour[], b: FakeBehaviour[]) {
  const providers = { a: fakeProvider("a", a), b: fakeProvider("b", b) };
  const router = createRouter({
    registry: createModelRegistry({ providers: Object.values(providers) }),
    config: parseRoutingConfig({
      routes: { default: ["a/m", "b/m"] },
      retry: { maxAttempts: 2, baseDelayMs: 0 },
      circuitBreaker: { failureThreshold: 2, cooldownMs: 60_000 },
    }),
  });
  return { router, providers };
}

describe("createRouter", () => {
  it("answers an alias from the second target when the first fails, reporting every attempt", async () => {
    const { router } = setup([{ error: overloaded }], [{ chunks: ["hello"] }]);
    const events: AttemptEvent[] = [];
    const result = await router
      .languageModel("default")
      .generate({ messages, onAttempt: (e) => events.push(e) });
    expect(result.text).toBe("hello");
    expect(events.map((e) => `${e.target}#${e.attempt}:${e.outcome}`)).toEqual([
      "a/m#1:error",
      "a/m#2:error",
      "b/m#1:ok",
    ]);
  });

  it("opens the failing target's breaker, skips it, and shows its state in the model list", async () => {
    const { router, providers } = setup([{ error: overloaded }], [{ chunks: ["hello"] }]);
    for (let i = 0; i < 2; i++) await router.languageModel("default").generate({ messages });
    const callsBefore = providers.a.calls();
    const events: AttemptEvent[] = [];
    await router.languageModel("default").generate({ messages, onAttempt: (e) => events.push(e) });
    expect(providers.a.calls()).toBe(callsBefore);
    expect(events[0]).toMatchObject({ target: "a/m", outcome: "circuit-open" });
    const models = await router.listModels();
    expect(models.find((model) => model.id === "a/m")?.circuit).toMatchObject({ state: "open", failures: 2 });
    expect(models.find((model) => model.id === "b/m")?.circuit).toMatchObject({ state: "closed" });
    expect(models.find((model) => model.id === "default")).toMatchObject({
      provider: "router",
      targets: ["a/m", "b/m"],
    });
  });

  it("keeps at most maxBreakers breakers, forgetting the oldest closed one and never an open one", async () => {
    const fake = createFakeLanguageModel("a", "any", [
      { error: overloaded },
      { error: overloaded },
      ...Array.from({ length: 3 }, () => ({ chunks: ["ok"] })),
    ]);
    const listed = ["a/m", "a/x1"].map((id) => ({
      id,
      provider: "a",
      capabilities: ["chat" as const],
      contextLength: 0,
      loaded: true,
    }));
    const router = createRouter({
      registry: createModelRegistry({
        providers: [
          { id: "a", listModels: async () => listed, languageModel: () => fake.model, close: async () => {} },
        ],
      }),
      config: parseRoutingConfig({ retry: { maxAttempts: 1 }, circuitBreaker: { failureThreshold: 2 } }),
      maxBreakers: 2,
    });
    const circuits = async () =>
      Object.fromEntries((await router.listModels()).map((model) => [model.id, model.circuit?.state]));
    for (let i = 0; i < 2; i++)
      await router
        .languageModel("a/m")
        .generate({ messages })
        .catch(() => {});
    await router.languageModel("a/x1").generate({ messages });
    expect(await circuits()).toEqual({ "a/m": "open", "a/x1": "closed" });
    // Model ids nobody listed (a client may send any): the closed a/x1 is forgotten, the open a/m kept.
    await router.languageModel("a/x2").generate({ messages });
    await router.languageModel("a/x3").generate({ messages });
    expect(await circuits()).toEqual({ "a/m": "open", "a/x1": undefined });
  });

  it("routes a plain model id to itself and refuses unknown ones", async () => {
    const { router } = setup([{ chunks: ["from a"] }], [{ chunks: ["from b"] }]);
    expect((await router.languageModel("b/m").generate({ messages })).text).toBe("from b");
    expect(() => router.languageModel("c/m")).toThrow(NoSuchModelError);
  });
});
