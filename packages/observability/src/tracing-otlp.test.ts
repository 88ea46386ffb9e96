import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type ExportedSpan, startOtlpCollector } from "./testing/start-otlp-collector.js";
import { inSpan, ROOT_CONTEXT, recordSpan, SpanKind, startTracing, type Tracing } from "./tracing.js";

// Its own file: tracing is started once per process, here as production starts it, from OTEL_*
// variables, exporting in batches over OTLP/HTTP (JSON, which the loopback collector reads).
let collector: Awaited<ReturnType<typeof startOtlpCollector>>;
let tracing: Tracing;
beforeAll(async () => {
  collector = await startOtlpCollector();
  // The SDK's exporter and batch processor read process.env themselves.
  vi.stubEnv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint);
  vi.stubEnv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json");
  vi.stubEnv("OTEL_SERVICE_NAME", "noa-otlp-test");
  vi.stubEnv("OTEL_BSP_SCHEDULE_DELAY", "20");
  vi.stubEnv("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "10");
  tracing = startTracing({ service: "default-name" });
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await tracing.shutdown();
  await collector.close();
});

const attribute = (span: Pick<ExportedSpan, "attributes">, key: string) =>
  span.attributes?.find((candidate) => candidate.key === key)?.value;

describe("spans exported over OTLP", () => {
  it("carry their names, kinds, parents, times, attributes and status to the collector, under the service's resource", async () => {
    const before = Date.now();
    await expect(
      inSpan(
        "POST /v1/chat/completions",
        { parent: ROOT_CONTEXT, kind: SpanKind.SERVER, attributes: { "http.request.method": "POST" } },
        async (span, within) => {
          span.setAttribute("noa.long", "abcdefghijkl");
          recordSpan("provider attempt", {
            parent: within,
            kind: SpanKind.CLIENT,
            durationMs: 120,
            attributes: { "noa.attempt": 1, "noa.retry": false },
          });
          throw new RangeError("upstream said sk-secret");
        },
      ),
    ).rejects.toThrow(RangeError);
    await vi.waitFor(() => expect(collector.spans).toHaveLength(2));
    const request = collector.spans.find((span) => span.name === "POST /v1/chat/completions");
    const attempt = collector.spans.find((span) => span.name === "provider attempt");
    expect(request?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(attempt?.traceId).toBe(request?.traceId);
    expect(attempt?.parentSpanId).toBe(request?.spanId);
    expect(request?.parentSpanId ?? "").toBe("");
    expect([request?.kind, attempt?.kind]).toEqual([2, 3]);
    expect(attribute(request ?? {}, "http.request.method")).toEqual({ stringValue: "POST" });
    // Cut to OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT.
    expect(attribute(request ?? {}, "noa.long")).toEqual({ stringValue: "abcdefghij" });
    expect(attribute(request ?? {}, "error.type")).toEqual({ stringValue: "RangeError" });
    expect(request?.status).toMatchObject({ code: 2, message: "RangeError" });
    expect(JSON.stringify(collector.spans)).not.toContain("sk-secret");
    expect(attribute(attempt ?? {}, "noa.retry")).toEqual({ boolValue: false });
    expect(Number(attribute(attempt ?? {}, "noa.attempt")?.intValue)).toBe(1);
    // The attempt started 120 ms before it was recorded; the request ended after it.
    const ms = (nanos?: string) => Number(BigInt(nanos ?? "0") / 1_000_000n);
    expect(ms(attempt?.endTimeUnixNano) - ms(attempt?.startTimeUnixNano)).toBeGreaterThanOrEqual(119);
    expect(ms(request?.startTimeUnixNano)).toBeGreaterThanOrEqual(before - 1);
    expect(ms(request?.endTimeUnixNano)).toBeGreaterThanOrEqual(ms(attempt?.endTimeUnixNano));
    expect(ms(request?.endTimeUnixNano)).toBeLessThanOrEqual(Date.now() + 1);
    const service = collector.resources[0]?.find((entry) => entry.key === "service.name")?.value;
    expect(service).toEqual({ stringValue: "noa-otlp-test" });
  });
});
