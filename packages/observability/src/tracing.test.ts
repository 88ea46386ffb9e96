import { createContextKey } from "@opentelemetry/api";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  InMemorySpanExporter,
  ParentBasedSampler,
  type Sampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-node";
import { afterAll, describe, expect, it } from "vitest";
import {
  extractTraceContext,
  injectTraceContext,
  inSpan,
  ROOT_CONTEXT,
  recordSpan,
  samplingFrom,
  startSpan,
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
  /** The SDK's sampler for each OTEL_TRACES_SAMPLER value, as its environment configuration builds them. */
  const sdkSampler = (name: string, ratio: number): Sampler => {
    const byRatio = new TraceIdRatioBasedSampler(ratio);
    switch (name) {
      case "always_on":
        return new AlwaysOnSampler();
      case "always_off":
        return new AlwaysOffSampler();
      case "traceidratio":
        return byRatio;
      case "parentbased_always_off":
        return new ParentBasedSampler({ root: new AlwaysOffSampler() });
      case "parentbased_traceidratio":
        return new ParentBasedSampler({ root: byRatio });
      default:
        return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    }
  };

  it("decides new traces and spans under a parent as the SDK's sampler of the same name does", () => {
    const hex = (word: number) => word.toString(16).padStart(8, "0");
    // Each sampler, its ratio, and about how many of 2,000 new traces it samples.
    for (const [name, arg, ratio, expected] of [
      ["parentbased_traceidratio", "0.1", 0.1, 200],
      ["traceidratio", "0.5", 0.5, 1_000],
      ["traceidratio", "0", 0, 0],
      ["traceidratio", "7", 1, 2_000],
      ["parentbased_always_on", undefined, 1, 2_000],
      ["bogus", undefined, 1, 2_000],
      ["always_on", undefined, 1, 2_000],
      ["always_off", undefined, 0, 0],
      ["parentbased_always_off", undefined, 0, 0],
    ] as const) {
      const sampling = samplingFrom({ OTEL_TRACES_SAMPLER: name, OTEL_TRACES_SAMPLER_ARG: arg });
      const sdk = sdkSampler(name, ratio);
      const sampledBySdk = (parent: typeof ROOT_CONTEXT, traceId: string) =>
        sdk.shouldSample(parent, traceId, "span", 0, {}, []).decision === SamplingDecision.RECORD_AND_SAMPLED;
      let sampled = 0;
      for (let draw = 0; draw < 2_000; draw++) {
        const words = [0, 1, 2, 3].map(() => Math.floor(Math.random() * 0x100000000));
        const traceId = words.map(hex).join("");
        const byBound = words.reduce((xor, word) => (xor ^ word) >>> 0, 0) < sampling.rootBound;
        expect(byBound, `${name} ${arg} ${traceId}`).toBe(sampledBySdk(ROOT_CONTEXT, traceId));
        if (byBound) sampled++;
      }
      expect(Math.abs(sampled - expected), `${name} ${arg}`).toBeLessThan(150);
      // Under a parent, local or remote, sampled or not: parent-based samplers follow it, others ignore it.
      for (const isRemote of [true, false]) {
        for (const traceFlags of [0, 1]) {
          const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
          const parent = trace.setSpanContext(ROOT_CONTEXT, {
            traceId,
            spanId: "00f067aa0ba902b7",
            traceFlags,
            isRemote,
          });
          const ours = sampling.parentBased
            ? traceFlags === 1
            : (0x4bf92f35 ^ 0x77b34da6 ^ 0xa3ce929d ^ 0x0e0e4736) >>> 0 < sampling.rootBound;
          expect(ours, `${name} under ${isRemote ? "remote" : "local"} ${traceFlags}`).toBe(
            sampledBySdk(parent, traceId),
          );
        }
      }
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

  it("gives a span's context the parent's values, and a copy with a value set or deleted, as the API's contexts do", () => {
    const key = createContextKey("noa test key");
    const parent = ROOT_CONTEXT.setValue(key, "kept");
    const { span, within } = startSpan("outer", { parent });
    expect(trace.getSpan(within)).toBe(span);
    expect(within.getValue(key)).toBe("kept");
    const other = createContextKey("noa other key");
    const set = within.setValue(other, 1);
    expect([trace.getSpan(set), set.getValue(key), set.getValue(other), within.getValue(other)]).toEqual([
      span,
      "kept",
      1,
      undefined,
    ]);
    const withoutKey = within.deleteValue(key);
    expect([trace.getSpan(withoutKey), withoutKey.getValue(key)]).toEqual([span, undefined]);
    const { within: inner } = startSpan("inner", { parent: within });
    expect(
      trace.getSpan(inner.deleteValue(createContextKey("OpenTelemetry Context Key SPAN"))),
    ).toBeUndefined();
    expect(trace.getSpan(inner)?.spanContext().traceId).toBe(span.spanContext().traceId);
    span.end();
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
