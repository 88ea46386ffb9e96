import { startTracing } from "@noa/observability";
import { InMemorySpanExporter, startOtlpCollector } from "@noa/observability/testing";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createTestClient } from "./__fixtures__/create-test-client.js";
import { type JobStack, jobModel, startJobStack } from "./__fixtures__/start-job-stack.js";

// Issue 9's trace across processes: a browser's tRPC call, the BFF's span, rpc-server's SubmitJob and
// the worker's attempt on the job share one trace id. The BFF and rpc-server run in this process (spans
// in memory); the worker exports over OTLP/HTTP to a loopback collector.
const spans = new InMemorySpanExporter();
const tracing = startTracing({ service: "noa-test", exporter: spans });
let collector: Awaited<ReturnType<typeof startOtlpCollector>>;
let stack: JobStack;
beforeAll(async () => {
  collector = await startOtlpCollector();
  stack = await startJobStack({
    workerEnv: {
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
      // The collector reads OTLP JSON.
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_BSP_SCHEDULE_DELAY: "50",
    },
  });
});
afterAll(async () => {
  await stack?.close();
  await collector?.close();
  await tracing.shutdown();
});

describe("one trace from the browser to the worker", () => {
  it("links the BFF's span, rpc-server's SubmitJob and the worker's job attempt", async () => {
    const user = createTestClient(stack.bffUrl);
    await user.signIn(await stack.keyFor("traced"));
    const { job } = await user.trpc.jobs.submit.mutate({
      spec: { kind: "inference", model: jobModel, messages: [{ role: "user", content: "Hi" }], maxTokens: 2 },
    });
    const bffSpan = spans.getFinishedSpans().find((span) => span.name === "tRPC jobs.submit");
    expect(bffSpan).toBeDefined();
    const traceId = bffSpan?.spanContext().traceId;
    const submit = spans
      .getFinishedSpans()
      .find(
        (span) =>
          span.name === "noa.inference.v1.JobService/SubmitJob" && span.spanContext().traceId === traceId,
      );
    expect(submit?.parentSpanContext?.spanId).toBe(bffSpan?.spanContext().spanId);
    await vi.waitFor(() => {
      const attempt = collector.spans.find((span) => span.name === "job attempt" && span.traceId === traceId);
      expect(attempt?.parentSpanId, `job ${job.id}`).toBe(submit?.spanContext().spanId);
    });
  });
});
