import { SpanKind, SpanStatusCode, TraceFlags } from "@opentelemetry/api";
import { hrTimeToMilliseconds, timeInputToHrTime } from "@opentelemetry/core";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { describe, expect, it } from "vitest";
import { spanIdsOf } from "./__fixtures__/span-ids-of.js";
import { RecordedSpan, type SpanSink } from "./recorded-span.js";

const context = {
  traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
  spanId: "00f067aa0ba902b7",
  traceFlags: TraceFlags.SAMPLED,
};

function recorded(limits: Partial<SpanSink> = {}) {
  const ended: RecordedSpan[] = [];
  const sink: SpanSink = {
    resource: resourceFromAttributes({ "service.name": "test" }),
    scope: { name: "noa" },
    attributeCountLimit: 128,
    attributeValueLengthLimit: Number.POSITIVE_INFINITY,
    eventCountLimit: 128,
    end: (span) => ended.push(span),
    ...limits,
  };
  const span = new RecordedSpan(
    spanIdsOf(context),
    "work",
    SpanKind.INTERNAL,
    undefined,
    1_700_000_000_123.5,
    sink,
  );
  return { span, ended };
}

describe("RecordedSpan", () => {
  it("keeps attributes within the limits, skipping invalid ones, and counts what it dropped", () => {
    const { span } = recorded({ attributeCountLimit: 2, attributeValueLengthLimit: 3 });
    span
      .setAttribute("a", "abcdef")
      .setAttribute("", 1)
      .setAttribute("b", { nested: true } as never);
    span.setAttributes({ c: 1, d: 2, a: ["xyzw", "ab"] });
    expect(span.attributes).toEqual({ a: ["xyz", "ab"], c: 1 });
    expect(span.droppedAttributesCount).toBe(1);
  });

  it("keeps an error status's message only, never replaces OK, and ignores UNSET", () => {
    const { span } = recorded();
    span.setStatus({ code: SpanStatusCode.OK, message: "fine" });
    expect(span.status).toEqual({ code: SpanStatusCode.OK });
    span.setStatus({ code: SpanStatusCode.ERROR, message: "late" });
    expect(span.status).toEqual({ code: SpanStatusCode.OK });
    const failed = recorded().span;
    failed
      .setStatus({ code: SpanStatusCode.UNSET })
      .setStatus({ code: SpanStatusCode.ERROR, message: "TypeError" });
    expect(failed.status).toEqual({ code: SpanStatusCode.ERROR, message: "TypeError" });
  });

  it("keeps the newest events within the limit, and an exception's type only", () => {
    const { span } = recorded({ eventCountLimit: 2 });
    span.addEvent("first").addEvent("second", { n: 2 });
    span.recordException(new TypeError("upstream said sk-secret"));
    expect(span.events.map((event) => [event.name, event.attributes])).toEqual([
      ["second", { n: 2 }],
      ["exception", { "exception.type": "TypeError" }],
    ]);
    expect(span.droppedEventsCount).toBe(1);
  });

  it("ends once, at its end time or never before its start, and changes nothing after", () => {
    const { span, ended } = recorded();
    expect(span.isRecording()).toBe(true);
    expect(hrTimeToMilliseconds(span.startTime)).toBeCloseTo(1_700_000_000_123.5, 3);
    span.end(1_700_000_000_000);
    span.end();
    expect(ended).toEqual([span]);
    expect(span.ended).toBe(true);
    expect(span.isRecording()).toBe(false);
    expect(span.duration).toEqual([0, 0]);
    span.setAttribute("late", 1).updateName("renamed").setStatus({ code: SpanStatusCode.ERROR });
    span.addEvent("late");
    expect([span.name, span.attributes, span.status.code, span.events]).toEqual([
      "work",
      {},
      SpanStatusCode.UNSET,
      [],
    ]);
    const later = recorded().span;
    later.end([1_700_000_001, 500_000_000]);
    expect(hrTimeToMilliseconds(later.duration)).toBeCloseTo(1_376.5, 3);
  });

  it("reads a number as the SDK does: performance.now()'s when small, else epoch milliseconds", () => {
    const relative = recorded().span;
    const now = performance.now();
    relative.end(now);
    expect(relative.endTimeMs).toBeCloseTo(performance.timeOrigin + now, 3);
    expect(hrTimeToMilliseconds(relative.endTime)).toBeCloseTo(
      hrTimeToMilliseconds(timeInputToHrTime(now)),
      3,
    );
    const absolute = recorded().span;
    absolute.addEvent("at", 1_700_000_000_500);
    absolute.end(1_700_000_001_000);
    expect(absolute.endTimeMs).toBe(1_700_000_001_000);
    expect(hrTimeToMilliseconds(absolute.events[0]?.time ?? [0, 0])).toBeCloseTo(1_700_000_000_500, 3);
  });
});
