import { randomUUID } from "node:crypto";
import net from "node:net";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ProviderError } from "../errors/provider-error.js";
import type { AttemptEvent, Provider } from "../language-model.js";
import { createModelRegistry } from "../model-registry.js";
import { createFakeLanguageModel, type FakeBehaviour } from "../testing/fake-language-model.js";
import { createRedisBreakerEvents } from "./create-redis-breaker-events.js";
import { createRouter } from "./create-router.js";
import { parseRoutingConfig } from "./routing-config.js";

// Two routers standing for two replicas, sharing breaker openings over a real Redis on a channel of
// their own: a target that fails on one is skipped by the other without calling it.
const messages = [{ role: "user" as const, content: "hi" }];
const overloaded = new ProviderError("503", { provider: "a", statusCode: 503, isRetryable: true });
const connections: Redis[] = [];
afterEach(() => {
  for (const connection of connections.splice(0)) connection.disconnect();
});

function redis(): Redis {
  const connection = new Redis("redis://127.0.0.1:6379", { maxRetriesPerRequest: 1 });
  connections.push(connection);
  return connection;
}

function replica(channel: string, a: FakeBehaviour[]) {
  const fakeA = createFakeLanguageModel("a", "m", a);
  const fakeB = createFakeLanguageModel("b", "m", [{ chunks: ["from b"] }]);
  const provider = (id: string, model: ReturnType<typeof createFakeLanguageModel>): Provider => ({
    id,
    listModels: async () => [
      { id: `${id}/m`, provider: id, capabilities: ["chat"], contextLength: 0, loaded: true },
    ],
    languageModel: () => model.model,
    close: async () => {},
  });
  const events = createRedisBreakerEvents({ publisher: redis(), subscriber: redis(), channel });
  const router = createRouter({
    registry: createModelRegistry({ providers: [provider("a", fakeA), provider("b", fakeB)] }),
    config: parseRoutingConfig({
      routes: { default: ["a/m", "b/m"] },
      retry: { maxAttempts: 1 },
      circuitBreaker: { failureThreshold: 2, cooldownMs: 60_000 },
    }),
    breakerEvents: events,
  });
  return { router, callsToA: () => fakeA.state.calls, events };
}

describe("createRedisBreakerEvents", () => {
  it("opens a target's breaker on every replica once it opens on one, until the same retry time", async () => {
    const channel = `noa-test:breakers:${randomUUID()}`;
    const first = replica(channel, [{ error: overloaded }]);
    const second = replica(channel, [{ chunks: ["from a"] }]);
    // Let both subscriptions reach Redis before anything is published.
    await new Promise((resolve) => setTimeout(resolve, 100));

    for (let i = 0; i < 2; i++) await first.router.languageModel("default").generate({ messages });
    const opened = (await first.router.listModels()).find((model) => model.id === "a/m")?.circuit;
    expect(opened?.state).toBe("open");

    await vi.waitFor(async () => {
      const circuit = (await second.router.listModels()).find((model) => model.id === "a/m")?.circuit;
      expect(circuit).toMatchObject({ state: "open", retryAt: opened?.retryAt });
    });
    const events: AttemptEvent[] = [];
    const answer = await second.router
      .languageModel("default")
      .generate({ messages, onAttempt: (event) => events.push(event) });
    // The second replica never called a/m (which would have answered): it skipped it and fell back.
    expect(second.callsToA()).toBe(0);
    expect(events[0]).toMatchObject({ target: "a/m", outcome: "circuit-open" });
    expect(answer.text).toBe("from b");
    await Promise.all([first.events.close(), second.events.close()]);
  });

  it("closes at once while Redis is unreachable, instead of waiting for it to come back", async () => {
    // A port nobody listens on: the connections keep reconnecting, commands wait for them.
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as net.AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const unreachable = () => {
      const connection = new Redis(port, "127.0.0.1", {
        maxRetriesPerRequest: null,
        retryStrategy: () => 50,
      });
      connection.on("error", () => {});
      connections.push(connection);
      return connection;
    };
    const events = createRedisBreakerEvents({ publisher: unreachable(), subscriber: unreachable() });
    const outcome = await Promise.race([
      events.close().then(() => "closed"),
      new Promise((resolve) => setTimeout(() => resolve("still waiting"), 2_000)),
    ]);
    expect(outcome).toBe("closed");
  });
});
