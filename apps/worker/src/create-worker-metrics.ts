import { bullPriority, type JobObserver, type JobQueues } from "@noa/jobs";
import { createSpansDroppedCounter, FoldedCounter, FoldedHistogram, type Tracing } from "@noa/observability";
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";

/** The worker's Prometheus registry, and the observer the job and webhook processors report to. */
export interface WorkerMetrics {
  readonly registry: Registry;
  readonly observer: JobObserver;
}

/**
 * The worker's own registry (never the global default): job attempts by type and outcome with their
 * duration, webhook deliveries, and — read from Redis when scraped — queue depth by priority and state,
 * and the dead-letter queue's size; spans tracing lost; plus the process metrics.
 */
export function createWorkerMetrics({
  queues,
  tracing,
}: {
  queues: Pick<JobQueues, "jobs" | "deadLetter">;
  /** Its lost spans become `noa_trace_spans_dropped_total`. */
  tracing?: Pick<Tracing, "spansLost">;
}): WorkerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  createSpansDroppedCounter({ registers, tracing });
  const attempts = new FoldedCounter({
    name: "noa_jobs_total",
    help: "Job attempts by type and outcome (completed, failed, retrying, dead_lettered, cancelled, released, lock_lost)",
    labelNames: ["type", "outcome"],
    registers,
  });
  const durations = new FoldedHistogram({
    name: "noa_job_duration_seconds",
    help: "Duration of job attempts by type and outcome",
    labelNames: ["type", "outcome"],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
    registers,
  });
  const webhooks = new FoldedCounter({
    name: "noa_webhook_deliveries_total",
    help: "Webhook delivery attempts by outcome (delivered, failed)",
    labelNames: ["outcome"],
    registers,
  });
  const priorities = Object.entries(bullPriority) as Array<[string, number]>;
  new Gauge({
    name: "noa_queue_depth",
    help: "Jobs waiting to start, by priority",
    labelNames: ["priority"],
    registers,
    async collect() {
      const counts = await queues.jobs.getCountsPerPriority(priorities.map(([, value]) => value));
      for (const [name, value] of priorities) this.set({ priority: name }, counts[value] ?? 0);
    },
  });
  new Gauge({
    name: "noa_queue_jobs",
    help: "Jobs in the job queue by BullMQ state (waiting, prioritized, active, delayed)",
    labelNames: ["state"],
    registers,
    async collect() {
      const counts = await queues.jobs.getJobCounts("waiting", "prioritized", "active", "delayed");
      for (const [state, value] of Object.entries(counts)) this.set({ state }, value);
    },
  });
  new Gauge({
    name: "noa_dead_letter_size",
    help: "Jobs parked in the dead-letter queue",
    registers,
    async collect() {
      const counts = await queues.deadLetter.getJobCounts("waiting", "prioritized", "delayed");
      this.set(Object.values(counts).reduce((sum, value) => sum + value, 0));
    },
  });
  return {
    registry,
    observer: {
      attempt(outcome, type, seconds) {
        attempts.inc([type, outcome]);
        durations.observe([type, outcome], seconds);
      },
      webhook(delivered) {
        webhooks.inc([delivered ? "delivered" : "failed"]);
      },
    },
  };
}
