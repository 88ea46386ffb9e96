import { type Context, extractTraceContext, injectTraceContext, inSpan, SpanKind } from "@noa/observability";
import type { Job } from "bullmq";
import { UnrecoverableError } from "bullmq";
import type { JobEvents } from "../job-events.js";
import type { JobObserver } from "../job-observer.js";
import type { QueuedJobData } from "../job-queues.js";
import { finalStates, type JobRecord } from "../job-record.js";
import type { JobStore } from "../job-store.js";
import type { Logger } from "../logger.js";
import { toJobJson } from "../to-proto-job.js";
import type { QueuedWebhookData, WebhookFinish } from "../webhooks/enqueue-webhook.js";
import { postWebhook } from "../webhooks/post-webhook.js";
import type { CallbackPolicy } from "../webhooks/ssrf-guard.js";

/**
 * The BullMQ processor of the webhook queue: POSTs `{"tenant", "delivery_id", "job": <Job as proto JSON>}`
 * to the job's callback URL, signed (x-noa-signature), records the attempt with the job, and throws on
 * failure so BullMQ retries with backoff; an address the SSRF guard refuses is not retried. The job is
 * the finish the callback was queued for, even when RetryJob has run the job again since; the tenant
 * and delivery id are in the signed body. It never touches the job's own run.
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
  return (bullJob: Job<QueuedJobData>, _token?: string, signal?: AbortSignal): Promise<void> =>
    inSpan(
      "webhook delivery",
      {
        kind: SpanKind.PRODUCER,
        parent: extractTraceContext(bullJob.data.trace ?? {}),
        attributes: { "noa.job.id": bullJob.data.jobId, "noa.webhook.attempt": bullJob.attemptsMade + 1 },
      },
      (_span, within) => deliverWebhook(bullJob, within, signal),
    );

  async function deliverWebhook(
    bullJob: Job<QueuedJobData>,
    within: Context,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const data: QueuedWebhookData = bullJob.data;
    const stored = await deps.store.get(data.jobId);
    if (!stored?.callbackUrl) return;
    const job = atFinish(stored, data.finish);
    if (!job?.finishedAt) {
      deps.logger.info(
        { jobId: stored.id, correlationId: stored.correlationId },
        "webhook skipped: the job runs again and the callback does not say which finish it reports",
      );
      return;
    }
    const finishedAt = job.finishedAt.getTime();
    const deliveryId = data.deliveryId ?? bullJob.id ?? `${job.id}-${finishedAt}`;
    const attempt = bullJob.attemptsMade + 1;
    // A worker that died after recording a delivery but before BullMQ took it as done leaves this attempt
    // to run again (same attempt number): this finish was already called back, so it is not sent twice.
    // (Between the receiver's answer and the record there is still a gap: callbacks are at least once;
    // receivers dedupe on the delivery id.)
    if (
      job.deliveries.some(
        (delivery) =>
          delivery.delivered && delivery.attempt === attempt && delivery.at.getTime() >= finishedAt,
      )
    ) {
      deps.logger.info({ jobId: job.id, correlationId: job.correlationId }, "webhook already delivered");
      return;
    }
    const outcome = await postWebhook({
      url: stored.callbackUrl,
      body: JSON.stringify({ tenant: job.tenant, delivery_id: deliveryId, job: toJobJson(job) }),
      secret: deps.secret,
      headers: {
        "x-noa-job-id": job.id,
        "x-noa-delivery-id": deliveryId,
        "x-noa-delivery-attempt": String(attempt),
        "x-correlation-id": job.correlationId,
        ...injectTraceContext({}, within),
      },
      policy: deps.policy,
      timeoutMs: deps.timeoutMs,
      signal,
    });
    await deps.store.addDelivery(job.id, { attempt, ...outcome, at: new Date(now()) });
    deps.observer?.webhook(outcome.delivered);
    const log = {
      jobId: job.id,
      deliveryId,
      attempt,
      statusCode: outcome.statusCode,
      correlationId: job.correlationId,
    };
    try {
      await deps.events.publish({ kind: "changed", id: job.id });
    } catch (error) {
      // Watchers miss one change; the delivery must not be retried for it (the receiver has it).
      deps.logger.warn({ ...log, err: error }, "webhook attempt recorded but not published");
    }
    if (outcome.delivered) {
      deps.logger.info(log, "webhook delivered");
      return;
    }
    deps.logger.warn({ ...log, error: outcome.error }, "webhook delivery failed");
    if (outcome.error?.startsWith("refused")) throw new UnrecoverableError(outcome.error);
    throw new Error(outcome.error ?? "webhook delivery failed");
  }
}

/**
 * The job as it was at `finish`: the stored job while that is still its last finish (with its result),
 * else the stored job with the finish's state put back (RetryJob ran it again since: only failed and
 * dead-lettered jobs run again, and those have no result). Without a finish (a callback queued before
 * they were carried), the stored job when it is final, else undefined.
 */
function atFinish(stored: JobRecord, finish: WebhookFinish | undefined): JobRecord | undefined {
  if (!finish) return finalStates.includes(stored.state) ? stored : undefined;
  if (stored.finishedAt?.toISOString() === finish.finishedAt) return stored;
  return {
    ...stored,
    state: finish.state,
    error: finish.error,
    progress: finish.progress,
    attempts: finish.attempts,
    result: undefined,
    nextAttemptAt: undefined,
    finishedAt: new Date(finish.finishedAt),
    updatedAt: new Date(finish.updatedAt),
  };
}
