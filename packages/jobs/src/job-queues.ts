import { setTimeout as delay } from "node:timers/promises";
import { type Context, injectTraceContext, ROOT_CONTEXT } from "@noa/observability";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { JobFailure, JobPriorityName } from "./job-record.js";
import type { Logger } from "./logger.js";

/** Queue names; the BullMQ key prefix (NOA_JOBS_PREFIX) keeps deployments and tests apart. */
export const queueNames = {
  jobs: "noa-jobs",
  deadLetter: "noa-dead-letter",
  webhooks: "noa-webhooks",
} as const;

/**
 * BullMQ priorities (1 runs first). One queue with priorities rather than a queue per class: BullMQ
 * keeps prioritised jobs in one sorted set, so a high job added behind 1 000 low ones starts next,
 * and one worker serves every class with one concurrency and one rate limit.
 */
export const bullPriority: Record<JobPriorityName, number> = { high: 1, medium: 2, low: 3 };

/** What a queued job carries: only its id, the database holds the rest. */
export interface QueuedJobData {
  jobId: string;
  /** The W3C trace context of whoever queued it (`traceparent`…), so the worker's spans join that trace. */
  trace?: Record<string, string>;
}

/** What the dead-letter queue keeps of an exhausted job. */
export interface DeadLetterData {
  jobId: string;
  originalQueue: string;
  data: QueuedJobData;
  error: JobFailure;
  attempts: number;
  deadLetteredAt: string;
}

/** The three queues, over one connection. */
export interface JobQueues {
  prefix: string;
  jobs: Queue<QueuedJobData>;
  deadLetter: Queue<DeadLetterData>;
  webhooks: Queue<QueuedJobData>;
  webhookRetry: { attempts: number; baseDelayMs: number };
  /**
   * Queues a job to run (again) with `maxAttempts` attempts; the BullMQ job id is the job's id. Its
   * attempts continue the trace `within` (the span of the call that queued it; default none).
   */
  enqueue(
    job: { id: string; priority: JobPriorityName; maxAttempts: number },
    within?: Context,
  ): Promise<void>;
  /**
   * Queues a job that ran before (RetryJob) again, as enqueue does. A worker may still be finishing its
   * last attempt: the database says the job ended before BullMQ has moved it, locked, to failed and
   * removed it, and an add under an id BullMQ holds is a no-op. So the old BullMQ job is removed first,
   * waiting up to `waitMs` (default 5 s) for its worker to let go. False when it did not let go in time
   * and nothing was queued: the workers' sweep of queued jobs queues it once it is gone.
   */
  requeue(
    job: { id: string; priority: JobPriorityName; maxAttempts: number },
    within?: Context,
    waitMs?: number,
  ): Promise<boolean>;
  close(): Promise<void>;
}

/** Opens the job, dead-letter and webhook queues under `prefix` on `connection` (not closed by close()). */
export function createJobQueues({
  connection,
  prefix,
  webhookRetry = { attempts: 5, baseDelayMs: 1_000 },
  logger,
}: {
  connection: Redis;
  prefix: string;
  /** Webhook deliveries: attempts and the first backoff delay (doubled each time, BullMQ "exponential"). */
  webhookRetry?: { attempts: number; baseDelayMs: number };
  /** Connection errors go here (debug: the app reports Redis outages once, on its connection). */
  logger?: Logger;
}): JobQueues {
  const options = { connection, prefix };
  const jobs = new Queue<QueuedJobData>(queueNames.jobs, options);
  const deadLetter = new Queue<DeadLetterData>(queueNames.deadLetter, options);
  const webhooks = new Queue<QueuedJobData>(queueNames.webhooks, options);
  // Without a listener BullMQ prints every reconnection error to the console.
  for (const queue of [jobs, deadLetter, webhooks] as Queue[]) {
    queue.on("error", (error) => logger?.debug({ err: error, queue: queue.name }, "queue connection error"));
  }
  const enqueue: JobQueues["enqueue"] = async ({ id, priority, maxAttempts }, within = ROOT_CONTEXT) => {
    await jobs.add(
      "job",
      { jobId: id, trace: injectTraceContext({}, within) },
      {
        jobId: id,
        priority: bullPriority[priority],
        attempts: maxAttempts,
        // The delay is computed by the processor (it stores it as next_attempt_time) and handed to
        // BullMQ through the worker's backoffStrategy.
        backoff: { type: "noa" },
        removeOnComplete: { count: 1_000 },
        // The database keeps the outcome and the dead-letter queue keeps exhausted jobs: a failed
        // BullMQ job is removed so RetryJob can queue the same id again.
        removeOnFail: true,
      },
    );
  };
  return {
    prefix,
    jobs,
    deadLetter,
    webhooks,
    webhookRetry,
    enqueue,
    async requeue(job, within, waitMs = 5_000) {
      const deadline = Date.now() + waitMs;
      // 0: the job is locked by the worker running (or finishing) it.
      while ((await jobs.remove(job.id)) === 0) {
        if (Date.now() >= deadline) return false;
        await delay(20);
      }
      await enqueue(job, within);
      return true;
    },
    async close() {
      await Promise.all([jobs.close(), deadLetter.close(), webhooks.close()]);
    },
  };
}
