import { extractTraceContext, inSpan, ROOT_CONTEXT, startTracing } from "@noa/observability";
import { InMemorySpanExporter } from "@noa/observability/testing";
import { createMemoryCacheTier, createResponseCache } from "@noa/providers";
import { afterAll, describe, expect, it } from "vitest";
import { cacheTierSpans } from "./traced.js";

const spans = new InMemorySpanExporter();
const tracing = startTracing({ service: "rpc-server", exporter: spans });
afterAll(() => tracing.shutdown());

describe("cacheTierSpans", () => {
  it("puts each tier read and write of a call in a span under the call's, saying whether the read hit", async () => {
    const responses = createResponseCache({
      tiers: [createMemoryCacheTier({ ttlMs: 60_000, maxEntries: 10, maxBytes: 1 << 20 })],
    });
    const identity = { requested: "fake/echo", resolved: ["fake/echo"] };
    const answer = {
      text: "hi",
      finishReason: "stop" as const,
      usage: { promptTokens: 1, completionTokens: 1 },
      model: "fake/echo",
    };
    const request = await inSpan("request", { parent: ROOT_CONTEXT }, async (span, within) => {
      const options = {
        messages: [{ role: "user" as const, content: "hello" }],
        temperature: 0,
        onCacheTier: cacheTierSpans(within),
      };
      const plan = responses.plan(identity, options);
      if (!plan) throw new Error("a repeatable call should have a cache plan");
      expect(await responses.lookup(plan)).toBeUndefined();
      responses.store(plan, answer);
      await responses.settled();
      expect((await responses.lookup(plan))?.answer.text).toBe("hi");
      return span;
    });
    const children = spans
      .getFinishedSpans()
      .filter((span) => span.parentSpanContext?.spanId === request.spanContext().spanId);
    expect(children.map((span) => [span.name, span.attributes["noa.cache.hit"]])).toEqual([
      ["cache memory get", false],
      ["cache memory set", undefined],
      ["cache memory get", true],
    ]);
  });

  it("times nothing for a call whose trace is not sampled, or that has none", async () => {
    const unsampled = extractTraceContext({
      traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
    });
    await inSpan("request", { parent: unsampled }, async (_span, within) => {
      expect(cacheTierSpans(within)).toBeUndefined();
    });
    expect(cacheTierSpans(ROOT_CONTEXT)).toBeUndefined();
  });
});
