import { startTracing } from "@noa/observability";
import { InMemorySpanExporter, startOtlpCollector } from "@noa/observability/testing";
import { JobState, Role } from "@noa/proto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { exportedMetrics, isWorkerMetric, referencedMetrics } from "./__fixtures__/deploy-metrics.js";
import { type JobCluster, startJobCluster, type TestWorker } from "./__fixtures__/start-job-cluster.js";

// Issue 9 for jobs: one trace from the submitting request through the worker's attempt and the webhook
// (rpc-server's spans in memory here, the worker process's over OTLP/HTTP to a loopback collector), and
// the worker's metrics, readiness and per-transition log lines.
const spans = new InMemorySpanExporter();
const tracing = startTracing({ service: "rpc-server", exporter: spans });
let collector: Awaited<ReturnType<typeof startOtlpCollector>>;
let cluster: JobCluster;
let worker: TestWorker;
beforeAll(async () => {
  collector = await startOtlpCollector();
  cluster = await startJobCluster({ workers: 0 });
  worker = await cluster.startWorker({
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
    // The collector reads OTLP JSON.
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_BSP_SCHEDULE_DELAY: "50",
  });
});
afterAll(async () => {
  await cluster?.close();
  await collector?.close();
  await tracing.shutdown();
});

describe("a job's trace, metrics and logs", () => {
  it("share the submitting request's trace id from SubmitJob through the worker to the webhook", async () => {
    const traceId = "5bf92f3577b34da6a3ce929d0e0e4736";
    const client = cluster.client(await cluster.keyFor("acme"));
    const { job } = await client.submitJob(
      {
        spec: {
          kind: {
            case: "inference",
            value: {
              model: "openai/gpt-4o-mini",
              messages: [{ role: Role.USER, content: "Hi" }],
              maxTokens: 4,
            },
          },
        },
        callbackUrl: cluster.webhooks.url("traced"),
      },
      { headers: { traceparent: `00-${traceId}-1111111111111111-01` } },
    );
    const id = job?.id ?? "";
    for await (const message of client.watchJob({ id })) {
      if (message.job?.state === JobState.COMPLETED) break;
    }
    await vi.waitFor(() =>
      expect(cluster.webhooks.received.some((hook) => hook.path === "/hooks/traced")).toBe(true),
    );
    const hook = cluster.webhooks.received.find((entry) => entry.path === "/hooks/traced");
    expect(String(hook?.headers.traceparent)).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));

    const submit = spans
      .getFinishedSpans()
      .find(
        (span) =>
          span.name === "noa.inference.v1.JobService/SubmitJob" && span.spanContext().traceId === traceId,
      );
    expect(submit).toBeDefined();
    await vi.waitFor(() => {
      const names = collector.spans.filter((span) => span.traceId === traceId).map((span) => span.name);
      expect(names).toEqual(expect.arrayContaining(["job attempt", "provider attempt", "webhook delivery"]));
    });
    const attempt = collector.spans.find((span) => span.traceId === traceId && span.name === "job attempt");
    expect(attempt?.parentSpanId).toBe(submit?.spanContext().spanId);
  });

  it("counts job attempts, webhook deliveries and queue depth on the worker's /metrics, and reports readiness", async () => {
    const base = `http://127.0.0.1:${worker.port}`;
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/^noa_jobs_total\{type="ai-inference",outcome="completed"\} [1-9]/m);
    expect(text).toMatch(/^noa_job_duration_seconds_count\{type="ai-inference",outcome="completed"\} [1-9]/m);
    expect(text).toMatch(/^noa_webhook_deliveries_total\{outcome="delivered"\} [1-9]/m);
    expect(text).toMatch(/^noa_queue_depth\{priority="high"\} 0$/m);
    expect(text).toMatch(/^noa_dead_letter_size 0$/m);
    // Its spans reached the collector: none lost.
    expect(text).toMatch(/^noa_trace_spans_dropped_total\{reason="export_failed"\} 0$/m);
    // The worker's part of the Grafana dashboard and the alert rules queries what it exports.
    const { dashboard, alerts } = referencedMetrics();
    const available = exportedMetrics(text);
    expect([...dashboard, ...alerts].filter((name) => isWorkerMetric(name) && !available.has(name))).toEqual(
      [],
    );
    const ready = await fetch(`${base}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: "ready",
      dependencies: { database: { status: "ok" }, redis: { status: "ok" } },
    });
    // One line per transition, with the job's id and correlation id; service and env on every line.
    // Written in batches, up to 20 ms after they are logged.
    const lines = () => worker.logs.filter((line) => typeof line.jobId === "string");
    await vi.waitFor(() =>
      expect(lines().map((line) => line.msg)).toEqual(
        expect.arrayContaining(["job attempt started", "job completed", "webhook delivered"]),
      ),
    );
    for (const line of lines())
      expect(line).toMatchObject({ service: "worker", correlationId: expect.any(String) });
  });
});
