import { startTracing } from "@noa/observability";
import { InMemorySpanExporter } from "@noa/observability/testing";
import { createMemoryCacheTier } from "@noa/providers";
import { afterAll, describe, expect, it } from "vitest";
import { tracedCacheTier } from "./traced.js";

const spans = new InMemorySpanExporter();
const tracing = startTracing({ service: "rpc-server", exporter: spans });
afterAll(() => tracing.shutdown());

describe("tracedCacheTier", () => {
  it("puts each read and write of a tier in a span saying whether the read hit, and still serves the tier", async () => {
    const tier = tracedCacheTier(createMemoryCacheTier({ ttlMs: 60_000, maxEntries: 10, maxBytes: 1 << 20 }));
    expect(tier.name).toBe("memory");
    expect(await tier.get("k")).toBeUndefined();
    const value = {
      text: "hi",
      finishReason: "stop" as const,
      usage: { promptTokens: 1, completionTokens: 1 },
      model: "fake/echo",
      createdAt: Date.now(),
    };
    await tier.set("k", { scope: "tenant:acme", value, expiresAt: Date.now() + 60_000 });
    expect((await tier.get("k"))?.value).toEqual(value);
    expect(spans.getFinishedSpans().map((span) => [span.name, span.attributes["noa.cache.hit"]])).toEqual([
      ["cache memory get", false],
      ["cache memory set", undefined],
      ["cache memory get", true],
    ]);
  });
});
