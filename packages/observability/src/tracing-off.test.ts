import { describe, expect, it } from "vitest";
import { extractTraceContext, inSpan, ROOT_CONTEXT, startSpan, trace } from "./tracing.js";

// This file never calls startTracing: tracing is off, as it is when no OTEL_* endpoint is set.
describe("with tracing off", () => {
  it("makes no span and no trace context: the work gets a span that records nothing and the parent as it came", async () => {
    const parent = extractTraceContext({
      traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    });
    expect(parent).toBe(ROOT_CONTEXT);
    const seen = await inSpan("request", { parent }, async (span, within) => {
      span.setAttribute("ignored", true);
      return { recording: span.isRecording(), within };
    });
    expect(seen).toEqual({ recording: false, within: parent });
    const { span, within } = startSpan("call", { parent });
    expect(span.isRecording()).toBe(false);
    expect(within).toBe(parent);
    expect(trace.getSpan(within)).toBeUndefined();
  });

  it("still passes on what the work throws", async () => {
    await expect(
      inSpan("failing", { parent: ROOT_CONTEXT }, async () => {
        throw new TypeError("bad");
      }),
    ).rejects.toThrow(TypeError);
  });
});
