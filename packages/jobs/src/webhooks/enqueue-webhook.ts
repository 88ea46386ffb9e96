import { type Context, injectTraceContext } from "@noa/observability";
import type { JobQueues } from "../job-queues.js";
import type { JobRecord } from "../job-record.js";

/**
 * Queues the callback of a job that reached a final state, once per finish: the BullMQ id is the job id
 * and its finish time, so a worker that runs the same finish twice (stalled-job recovery) adds nothing.
 * Its delivery continues the trace `within` (the attempt or call that finished the job).
 */
export async function enqueueWebhook(queues: JobQueues, job: JobRecord, within: Context): Promise<void> {
  if (!job.callbackUrl || !job.finishedAt) return;
  await queues.webhooks.add(
    "webhook",
    { jobId: job.id, trace: injectTraceContext({}, within) },
    {
      jobId: `${job.id}-${job.finishedAt.getTime()}`,
      attempts: queues.webhookRetry.attempts,
      backoff: { type: "exponential", delay: queues.webhookRetry.baseDelayMs, jitter: 0.3 },
      removeOnComplete: { count: 1_000 },
      removeOnFail: { count: 1_000 },
    },
  );
}
