import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-node";
import { afterAll, describe, expect, it } from "vitest";
import {
  extractTraceContext,
  injectTraceContext,
  inSpan,
  samplerFrom,
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

describe("samplerFrom", () => {
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
});

describe("spans and propagation", () => {
  it("continues the trace of an incoming traceparent, nests spans, and injects the context for the next hop", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parent = extractTraceContext({ traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    let outgoing: Record<string, string> = {};
    await inSpan("request", { parent }, async () => {
      await inSpan("auth", {}, async () => {});
      outgoing = injectTraceContext();
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
    const answer = await inSpan("request", { parent }, () =>
      inSpan("auth", {}, async () => {
        outgoing = injectTraceContext();
        return 42;
      }),
    );
    expect(answer).toBe(42);
    expect(exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId)).toEqual([]);
    expect(outgoing.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`));
  });

  it("records a failure's type, not its message", async () => {
    await expect(
      inSpan("failing", {}, async () => {
        throw new TypeError("upstream said sk-secret");
      }),
    ).rejects.toThrow();
    const span = exporter.getFinishedSpans().find((candidate) => candidate.name === "failing");
    expect(span?.status).toMatchObject({ code: 2, message: "TypeError" });
    expect(JSON.stringify(span?.attributes)).not.toContain("sk-secret");
  });
});
