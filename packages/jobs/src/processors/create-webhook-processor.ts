import { type Context, extractTraceContext, injectTraceContext, inSpan, SpanKind } from "@noa/observability";
import type { Job } from "bullmq";
import { UnrecoverableError } from "bullmq";
import type { JobEvents } from "../job-events.js";
import type { JobObserver } from "../job-observer.js";
import type { QueuedJobData } from "../job-queues.js";
import type { JobStore } from "../job-store.js";
import type { Logger } from "../logger.js";
import { toJobJson } from "../to-proto-job.js";
import { postWebhook } from "../webhooks/post-webhook.js";
import type { CallbackPolicy } from "../webhooks/ssrf-guard.js";

/**
 * The BullMQ processor of the webhook queue: POSTs `{"job": <Job as proto JSON>}` to the job's callback
 * URL, signed (x-noa-signature), records the attempt with the job, and throws on failure so BullMQ retries
 * with backoff; an address the SSRF guard refuses is not retried. It never touches the job's own run.
 */
export function createWebhookProcessor(deps: {
  store: JobStore;
  events: JobEvents;
  logger: Logger;
  secret: string;
  policy: CallbackPolicy;
  timeoutMs: number;
  /** Told whether each delivery attempt was accepted (metrics). */
  observer?: Pick<JobObserver, "webhook">;
  now?: () => number;
}) {
  const now = deps.now ?? Date.now;
  /** One delivery attempt, in a span of the trace that queued the job; the POST carries that trace on. */
  return (bullJob: Job<QueuedJobData>): Promise<void> =>
    inSpan(
      "webhook delivery",
      {
        kind: SpanKind.PRODUCER,
        parent: extractTraceContext(bullJob.data.trace ?? {}),
        attributes: { "noa.job.id": bullJob.data.jobId, "noa.webhook.attempt": bullJob.attemptsMade + 1 },
      },
      (_span, within) => deliverWebhook(bullJob, within),
    );

  async function deliverWebhook(bullJob: Job<QueuedJobData>, within: Context): Promise<void> {
    const job = await deps.store.get(bullJob.data.jobId);
    if (!job?.callbackUrl) return;
    // A worker that died after recording a delivery but before BullMQ took it as done leaves it to run
    // again: this finish was already called back, so it is not sent twice. (Between the receiver's answer
    // and the record there is still a gap: callbacks are at least once; receivers dedupe on x-noa-job-id.)
    const finishedAt = job.finishedAt?.getTime() ?? 0;
    if (job.deliveries.some((delivery) => delivery.delivered && delivery.at.getTime() >= finishedAt)) {
      deps.logger.info({ jobId: job.id, correlationId: job.correlationId }, "webhook already delivered");
      return;
    }
    const attempt = bullJob.attemptsMade + 1;
    const outcome = await postWebhook({
      url: job.callbackUrl,
      body: JSON.stringify({ job: toJobJson(job) }),
      secret: deps.secret,
      headers: {
        "x-noa-job-id": job.id,
        "x-noa-delivery-attempt": String(attempt),
        "x-correlation-id": job.correlationId,
        ...injectTraceContext({}, within),
      },
      policy: deps.policy,
      timeoutMs: deps.timeoutMs,
    });
    await deps.store.addDelivery(job.id, { attempt, ...outcome, at: new Date(now()) });
    deps.observer?.webhook(outcome.delivered);
    await deps.events.publish({ kind: "changed", id: job.id });
    const log = { jobId: job.id, attempt, statusCode: outcome.statusCode, correlationId: job.correlationId };
    if (outcome.delivered) {
      deps.logger.info(log, "webhook delivered");
      return;
    }
    deps.logger.warn({ ...log, error: outcome.error }, "webhook delivery failed");
    if (outcome.error?.startsWith("refused")) throw new UnrecoverableError(outcome.error);
    throw new Error(outcome.error ?? "webhook delivery failed");
  }
}
