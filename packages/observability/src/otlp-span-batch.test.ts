import { once } from "node:events";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { SpanKind, SpanStatusCode, TraceFlags } from "@opentelemetry/api";
import { TraceState } from "@opentelemetry/core";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import { afterEach, describe, expect, it, vi } from "vitest";
import { spanIdsOf } from "./__fixtures__/span-ids-of.js";
import {
  type BatchSender,
  batchLimitsFrom,
  createOtlpBatchSender,
  OtlpSpanBatch,
} from "./otlp-span-batch.js";
import { RecordedSpan, type SpanSink } from "./recorded-span.js";
import { SpanIds } from "./span-ids.js";

const resource = defaultResource().merge(
  resourceFromAttributes({ "service.name": "noa-test", "deploy.n": 3 }),
);
const scope = { name: "noa" };

/** Spans with every field the encoding writes: ids, trace state, remote and local parents, kinds, attribute types, events, links, statuses, long and non-ASCII text. */
function variedSpans(): RecordedSpan[] {
  const ended: RecordedSpan[] = [];
  const sink: SpanSink = {
    resource,
    scope,
    attributeCountLimit: 128,
    attributeValueLengthLimit: Number.POSITIVE_INFINITY,
    eventCountLimit: 128,
    end: (span) => ended.push(span),
  };
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  const context = (spanId: string, traceState?: TraceState) => ({
    traceId,
    spanId,
    traceFlags: TraceFlags.SAMPLED,
    traceState,
  });
  const ids = (spanId: string, traceState?: TraceState) => spanIdsOf(context(spanId, traceState));
  const remoteParent = { traceId, spanId: "00f067aa0ba902b7", traceFlags: 1, isRemote: true };
  const server = new RecordedSpan(
    ids("a1b2c3d4e5f60718", new TraceState("vendor=1,other=x")),
    "POST /v1/chat/completions",
    SpanKind.SERVER,
    remoteParent,
    1_764_000_000_123.456,
    sink,
  );
  server.setAttributes({
    "http.request.method": "POST",
    "noa.ok": true,
    "noa.count": 42,
    "noa.negative": -7,
    "noa.big": 2 ** 40,
    "noa.ratio": 0.25,
    "noa.list": ["a", "b"],
    "noa.numbers": [1, 2.5],
    "noa.text": "é".repeat(100),
  });
  server.addEvent("first byte", { n: 1 }, 1_764_000_000_200);
  server.addLink({ context: context("1111111111111111"), attributes: { why: "batch" } });
  server.setStatus({ code: SpanStatusCode.ERROR, message: "TypeError" });
  // Its parent is the span itself (a local parent), whose ids are read from their words.
  const child = new RecordedSpan(
    new SpanIds(server.ids.trace, -1, -1, server.ids.traceState),
    "auth",
    SpanKind.INTERNAL,
    server,
    1_764_000_000_124,
    sink,
  );
  child.setAttribute("noa.long", "x".repeat(20_000));
  child.end(1_764_000_000_125.5);
  const root = new RecordedSpan(
    ids("0000000000000001"),
    "root",
    SpanKind.CLIENT,
    undefined,
    1_764_000_000_000,
    sink,
  );
  root.setStatus({ code: SpanStatusCode.OK });
  root.end(1_764_000_000_001);
  server.end(1_764_000_000_300);
  return ended;
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("OtlpSpanBatch", () => {
  it("sends over OTLP/HTTP, as protobuf, the bytes the SDK's serializer writes for the same spans", async () => {
    const bodies: Array<{ headers: IncomingHttpHeaders; body: Buffer }> = [];
    const collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        bodies.push({ headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
      });
    });
    collector.listen(0, "127.0.0.1");
    await once(collector, "listening");
    vi.stubEnv(
      "OTEL_EXPORTER_OTLP_ENDPOINT",
      `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
    );
    vi.stubEnv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=noa");
    // Two batches of three: the second is written where the first was.
    const limits = batchLimitsFrom({ OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "3" });
    const batch = new OtlpSpanBatch(resource, scope, createOtlpBatchSender(), limits);
    const first = variedSpans();
    const second = variedSpans().reverse();
    for (const span of [...first, ...second]) batch.onEnd(span);
    await batch.shutdown();
    collector.close();
    expect(bodies).toHaveLength(2);
    expect(bodies[0]?.headers["content-type"]).toBe("application/x-protobuf");
    expect(bodies[0]?.headers["x-tenant"]).toBe("noa");
    const sent = bodies.map(({ body }) => body.toString("hex")).sort();
    const expected = [first, second]
      .map((spans) => Buffer.from(ProtobufTraceSerializer.serializeRequest(spans) ?? []).toString("hex"))
      .sort();
    expect(sent).toEqual(expected);
  });

  it("sends a batch when it is full or when the schedule delay is over, and drops spans past the queue size", async () => {
    vi.useFakeTimers();
    try {
      const batches: number[] = [];
      let answer: (() => void) | undefined;
      const sender: BatchSender = {
        export: (batch, done) => {
          batches.push(batch.spans);
          answer = () => done({ code: 0 });
        },
        shutdown: async () => {},
      };
      const limits = batchLimitsFrom({
        OTEL_BSP_SCHEDULE_DELAY: "1000",
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "3",
        OTEL_BSP_MAX_QUEUE_SIZE: "5",
      });
      const batch = new OtlpSpanBatch(resource, scope, sender, limits);
      const spans = [...variedSpans(), ...variedSpans(), ...variedSpans()];
      for (const span of spans.slice(0, 4)) batch.onEnd(span);
      expect(batches).toEqual([3]);
      vi.advanceTimersByTime(999);
      expect(batches).toEqual([3]);
      // 3 being sent and 1 waiting: the queue holds 5, so 1 more is taken and the rest dropped.
      for (const span of spans.slice(4)) batch.onEnd(span);
      expect(batch.dropped).toBe(spans.length - 5);
      vi.advanceTimersByTime(1);
      expect(batches).toEqual([3, 2]);
      answer?.();
      await vi.runAllTimersAsync();
      batch.onEnd(spans[0] as RecordedSpan);
      expect(batch.dropped).toBe(spans.length - 5);
    } finally {
      vi.useRealTimers();
    }
  });
});
