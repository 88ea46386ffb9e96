import { type Context, injectTraceContext } from "@noa/observability";
import type { JobQueues, QueuedJobData } from "../job-queues.js";
import type { JobFailure, JobRecord, JobStateName } from "../job-record.js";

/**
 * The finish a callback reports, as the job was when it reached that final state: the fields a later
 * finish changes (RetryJob, then another run). Not its result: only a completed finish has one, and a
 * completed job is never run again, so the stored result is that finish's (and Redis keeps no copy).
 */
export interface WebhookFinish {
  state: JobStateName;
  error: JobFailure | undefined;
  progress: number;
  attempts: number;
  /** ISO 8601, as JSON carries dates. */
  finishedAt: string;
  updatedAt: string;
}

/** What a queued callback carries besides the job id: which finish it reports, and its delivery id. */
export interface QueuedWebhookData extends QueuedJobData {
  /** `<job id>-<finish time in ms>`: the same for every attempt of this callback, new for a later finish. */
  deliveryId?: string;
  /** Absent on callbacks queued before finishes were carried: those report the job as stored. */
  finish?: WebhookFinish;
}

/**
 * Queues the callback of a job that reached a final state, once per finish: the BullMQ id (also the
 * delivery id receivers dedupe on) is the job id and its finish time, so a worker that runs the same
 * finish twice (stalled-job recovery) adds nothing. The data carries that finish, so a callback still
 * being retried after RetryJob ran the job again reports the finish it was queued for, not the job's
 * current state. Its delivery continues the trace `within` (the attempt or call that finished the job).
 */
export async function enqueueWebhook(queues: JobQueues, job: JobRecord, within: Context): Promise<void> {
  if (!job.callbackUrl || !job.finishedAt) return;
  const deliveryId = `${job.id}-${job.finishedAt.getTime()}`;
  const data: QueuedWebhookData = {
    jobId: job.id,
    trace: injectTraceContext({}, within),
    deliveryId,
    finish: {
      state: job.state,
      error: job.error,
      progress: job.progress,
      attempts: job.attempts,
      finishedAt: job.finishedAt.toISOString(),
      updatedAt: job.updatedAt.toISOString(),
    },
  };
  await queues.webhooks.add("webhook", data, {
    jobId: deliveryId,
    attempts: queues.webhookRetry.attempts,
    backoff: { type: "exponential", delay: queues.webhookRetry.baseDelayMs, jitter: 0.3 },
    removeOnComplete: { count: 1_000 },
    removeOnFail: { count: 1_000 },
  });
}
