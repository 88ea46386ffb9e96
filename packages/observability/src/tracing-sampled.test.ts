import {
  InMemorySpanExporter,
  SamplingDecision,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-node";
import { afterAll, describe, expect, it } from "vitest";
import { injectTraceContext, inSpan, ROOT_CONTEXT, startTracing } from "./tracing.js";

// Its own file: tracing is started once per process, here with one trace in two sampled.
const exporter = new InMemorySpanExporter();
const tracing = startTracing({
  service: "test",
  exporter,
  env: { OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.5" },
});
afterAll(() => tracing.shutdown());

describe("new traces under a ratio sampler", () => {
  it("records the sampled ones whole under the trace id sampled, and passes the others on as not sampled", async () => {
    const ratio = new TraceIdRatioBasedSampler(0.5);
    const sampledBy = (traceId: string) =>
      ratio.shouldSample(ROOT_CONTEXT, traceId).decision === SamplingDecision.RECORD_AND_SAMPLED;
    const outgoing: { traceparent: string; recording: boolean }[] = [];
    for (let request = 0; request < 200; request++) {
      await inSpan("request", { parent: ROOT_CONTEXT }, (span, within) =>
        inSpan("auth", { parent: within }, async (_auth, below) => {
          const { traceparent = "" } = injectTraceContext({}, below);
          outgoing.push({ traceparent, recording: span.isRecording() });
        }),
      );
    }
    const parts = outgoing.map(({ traceparent, recording }) => {
      const [, traceId = "", , flags] = traceparent.split("-");
      return { traceId, flags, recording };
    });
    const spans = exporter.getFinishedSpans();
    const sampled = parts.filter((part) => part.recording);
    const dropped = parts.filter((part) => !part.recording);
    // Binomial(200, 0.5): 60–140 is more than five standard deviations either side.
    expect(sampled.length).toBeGreaterThan(60);
    expect(dropped.length).toBeGreaterThan(60);
    expect(new Set(parts.map((part) => part.traceId)).size).toBe(200);

    for (const { traceId, flags } of sampled) {
      expect(flags).toBe("01");
      expect(sampledBy(traceId)).toBe(true);
      const trace = spans.filter((span) => span.spanContext().traceId === traceId);
      expect(trace.map((span) => span.name).sort()).toEqual(["auth", "request"]);
    }
    for (const { traceId, flags } of dropped) {
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(traceId).not.toBe("0".repeat(32));
      expect(flags).toBe("00");
      expect(sampledBy(traceId)).toBe(false);
    }
    expect(spans).toHaveLength(sampled.length * 2);
  });
});
