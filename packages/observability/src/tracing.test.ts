import { InMemorySpanExporter, SamplingDecision } from "@opentelemetry/sdk-trace-node";
import { afterAll, describe, expect, it } from "vitest";
import {
  extractTraceContext,
  injectTraceContext,
  inSpan,
  ROOT_CONTEXT,
  recordSpan,
  samplingFrom,
  startTracing,
  trace,
} from "./tracing.js";

const exporter = new InMemorySpanExporter();
const tracing = startTracing({ service: "test", exporter });
afterAll(() => tracing.shutdown());

describe("startTracing", () => {
  it("stays off without an OTLP endpoint, and off when the SDK is disabled", () => {
    expect(startTracing({ service: "x", env: {} }).enabled).toBe(false);
    expect(
      startTracing({
        service: "x",
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:1", OTEL_SDK_DISABLED: "true" },
      }).enabled,
    ).toBe(false);
  });
});

describe("samplingFrom", () => {
  const samplerFrom = (env: NodeJS.ProcessEnv) => samplingFrom(env).sampler;

  it("reads OTEL_TRACES_SAMPLER and its ratio, and defaults to parentbased_always_on", () => {
    expect(samplerFrom({}).toString()).toMatch(/^ParentBased\{root=AlwaysOnSampler/);
    expect(samplerFrom({ OTEL_TRACES_SAMPLER: "bogus" }).toString()).toMatch(
      /^ParentBased\{root=AlwaysOnSampler/,
    );
    expect(
      samplerFrom({
        OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
        OTEL_TRACES_SAMPLER_ARG: "0.1",
      }).toString(),
    ).toMatch(/^ParentBased\{root=TraceIdRatioBased\{0\.1\}/);
    expect(
      samplerFrom({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "7" }).toString(),
    ).toBe("TraceIdRatioBased{1}");
    expect(samplerFrom({ OTEL_TRACES_SAMPLER: "always_off" }).toString()).toBe("AlwaysOffSampler");
  });

  it("gives the bound on which the sampler decides a new trace's root, for every sampler", () => {
    const hex = (word: number) => word.toString(16).padStart(8, "0");
    // Each sampler, and about how many of 2,000 new traces it samples.
    for (const [name, arg, expected] of [
      ["parentbased_traceidratio", "0.1", 200],
      ["traceidratio", "0.5", 1_000],
      ["traceidratio", "0", 0],
      ["traceidratio", "1", 2_000],
      ["parentbased_always_on", undefined, 2_000],
      ["always_off", undefined, 0],
      ["parentbased_always_off", undefined, 0],
    ] as const) {
      const { sampler, rootBound } = samplingFrom({
        OTEL_TRACES_SAMPLER: name,
        OTEL_TRACES_SAMPLER_ARG: arg,
      });
      let sampled = 0;
      for (let draw = 0; draw < 2_000; draw++) {
        const words = [0, 1, 2, 3].map(() => Math.floor(Math.random() * 0x100000000));
        const traceId = words.map(hex).join("");
        const decision = sampler.shouldSample(ROOT_CONTEXT, traceId, "root", 0, {}, []).decision;
        const byBound = words.reduce((xor, word) => (xor ^ word) >>> 0, 0) < rootBound;
        expect(byBound, `${name} ${arg} ${traceId}`).toBe(decision === SamplingDecision.RECORD_AND_SAMPLED);
        if (byBound) sampled++;
      }
      expect(Math.abs(sampled - expected), `${name} ${arg}`).toBeLessThan(150);
    }
  });
});

describe("spans and propagation", () => {
  it("continues the trace of an incoming traceparent, nests spans, and injects the context for the next hop", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parent = extractTraceContext({ traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    let outgoing: Record<string, string> = {};
    await inSpan("request", { parent }, async (_span, request) => {
      await inSpan("auth", { parent: request }, async () => {});
      outgoing = injectTraceContext({}, request);
    });
    const spans = exporter.getFinishedSpans();
    const request = spans.find((span) => span.name === "request");
    const auth = spans.find((span) => span.name === "auth");
    expect(request?.spanContext().traceId).toBe(traceId);
    expect(auth?.spanContext().traceId).toBe(traceId);
    expect(auth?.parentSpanContext?.spanId).toBe(request?.spanContext().spanId);
    expect(outgoing.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(trace.getSpanContext(extractTraceContext(outgoing))?.traceId).toBe(traceId);
  });

  it("records nothing under a caller's unsampled trace, and still passes that trace on", async () => {
    const traceId = "5bf92f3577b34da6a3ce929d0e0e4737";
    const parent = extractTraceContext({ traceparent: `00-${traceId}-00f067aa0ba902b7-00` });
    let outgoing: Record<string, string> = {};
    const answer = await inSpan("request", { parent }, (_span, request) =>
      inSpan("auth", { parent: request }, async (_auth, within) => {
        outgoing = injectTraceContext({}, within);
        return 42;
      }),
    );
    expect(answer).toBe(42);
    expect(exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId)).toEqual([]);
    expect(outgoing.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`));
  });

  it("records a failure's type, not its message", async () => {
    await expect(
      inSpan("failing", { parent: ROOT_CONTEXT }, async () => {
        throw new TypeError("upstream said sk-secret");
      }),
    ).rejects.toThrow();
    const span = exporter.getFinishedSpans().find((candidate) => candidate.name === "failing");
    expect(span?.status).toMatchObject({ code: 2, message: "TypeError" });
    expect(JSON.stringify(span?.attributes)).not.toContain("sk-secret");
  });

  it("records a span that already happened under its parent, with its real start, and none without a sampled parent", async () => {
    const traceId = "6bf92f3577b34da6a3ce929d0e0e4738";
    const sampled = extractTraceContext({ traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    const unsampled = extractTraceContext({ traceparent: `00-${traceId}-00f067aa0ba902b8-00` });
    const before = Date.now();
    await inSpan("request", { parent: sampled }, async (_span, request) => {
      recordSpan("cache redis get", {
        parent: request,
        durationMs: 250,
        attributes: { "noa.cache.hit": true },
      });
    });
    await inSpan("request", { parent: unsampled }, async (_span, request) => {
      recordSpan("cache redis get", { parent: request, durationMs: 1 });
    });
    recordSpan("orphan", { parent: ROOT_CONTEXT, durationMs: 1, error: new Error("x") });
    const spans = exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
    expect(spans.map((span) => span.name).sort()).toEqual(["cache redis get", "request"]);
    const read = spans.find((span) => span.name === "cache redis get");
    const request = spans.find((span) => span.name === "request");
    expect(read?.parentSpanContext?.spanId).toBe(request?.spanContext().spanId);
    expect(read?.attributes["noa.cache.hit"]).toBe(true);
    // Started 250 ms before it was recorded, which is before the request span began.
    const startMs = (read?.startTime[0] ?? 0) * 1000 + (read?.startTime[1] ?? 0) / 1e6;
    expect(startMs).toBeLessThanOrEqual(before - 200);
    expect(exporter.getFinishedSpans().some((span) => span.name === "orphan")).toBe(false);
  });
});
