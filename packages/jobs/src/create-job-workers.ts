import { type Job, UnrecoverableError, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { type BackoffPolicy, backoffDelay } from "./backoff-delay.js";
import { createLockLeases } from "./create-lock-leases.js";
import type { RedisOutageLog } from "./create-redis-outage-log.js";
import type { JobEvents } from "./job-events.js";
import { type QueuedJobData, queueNames } from "./job-queues.js";
import type { Logger } from "./logger.js";
import { abortReasons, type createJobProcessor, RetryLaterError } from "./processors/create-job-processor.js";
import type { createWebhookProcessor } from "./processors/create-webhook-processor.js";

/** How a worker process takes jobs (seed design: concurrency 5, 10 jobs/s). */
export interface JobWorkerOptions {
  concurrency: number;
  /** Jobs started per second at most; BullMQ enforces it across all workers of the queue. 0: no limit. */
  ratePerSecond: number;
  /** How long a job's lock lasts without renewal: a worker that dies loses its jobs after this. */
  lockDurationMs: number;
  /** How often workers look for jobs whose lock expired (stalled) and queue them again. */
  stalledIntervalMs: number;
  /** How often a job may stall (its worker died) and run again; once more and it is dead-lettered. */
  maxStalledCount: number;
  /** Webhook deliveries in parallel. */
  webhookConcurrency: number;
  backoff: BackoffPolicy;
}

/** The running workers of one process. */
export interface JobWorkers {
  jobs: Worker<QueuedJobData>;
  webhooks: Worker<QueuedJobData>;
  /**
   * Stops taking jobs, lets running ones finish for `graceMs`, then releases the rest back to the queue
   * (another worker runs them) and waits for that.
   */
  close(options: { graceMs: number }): Promise<void>;
}

/**
 * Starts the job and webhook workers on `connection` (which needs `maxRetriesPerRequest: null`) and
 * listens for CancelJob to stop a job this process is running. A job attempt whose lock this process lost
 * (Redis unreachable for longer than `lockDurationMs`) is stopped before another run can take the job
 * (createLockLeases). Connection failures go to `redisOutage` (told once per outage, however often BullMQ
 * reconnects); other worker errors are logged.
 */
export function createJobWorkers(deps: {
  connection: Redis;
  prefix: string;
  events: JobEvents;
  logger: Logger;
  /** The process's Redis outage log, which the app's own connections report to as well. */
  redisOutage: Pick<RedisOutageLog, "failed" | "ready">;
  processJob: ReturnType<typeof createJobProcessor>;
  deliverWebhook: ReturnType<typeof createWebhookProcessor>;
  options: JobWorkerOptions;
}): JobWorkers {
  const { connection, prefix, events, logger, options } = deps;
  const leases = createLockLeases({ lockDurationMs: options.lockDurationMs });
  const processJob = (job: Job<QueuedJobData>, token?: string, signal?: AbortSignal) =>
    leases.hold(
      { jobId: job.id ?? job.data.jobId, lockedAt: job.processedOn ?? Date.now(), signal },
      (held) => deps.processJob(job, token, held),
    );
  const jobs = new Worker<QueuedJobData>(queueNames.jobs, processJob, {
    connection,
    prefix,
    concurrency: options.concurrency,
    ...(options.ratePerSecond > 0 ? { limiter: { max: options.ratePerSecond, duration: 1_000 } } : {}),
    lockDuration: options.lockDurationMs,
    stalledInterval: options.stalledIntervalMs,
    maxStalledCount: options.maxStalledCount,
    settings: {
      backoffStrategy: (attemptsMade, _type, error) =>
        error instanceof RetryLaterError ? error.delayMs : backoffDelay(attemptsMade, options.backoff),
    },
  });
  const webhooks = new Worker<QueuedJobData>(queueNames.webhooks, deps.deliverWebhook, {
    connection,
    prefix,
    concurrency: options.webhookConcurrency,
    lockDuration: options.lockDurationMs,
    stalledInterval: options.stalledIntervalMs,
  });
  // A renewal that finds a job's lock gone stops its attempt. BullMQ also emits an 'error' per such job:
  // for an attempt running here, the processor's warning about the stopped attempt is the one line about
  // it (that Error has no code or class to tell it by, only its message); any other is logged.
  const lockErrors = new Set<string>();
  jobs.on("locksRenewed", ({ jobIds }) => leases.renewed(jobIds));
  jobs.on("lockRenewalFailed", (jobIds) => {
    for (const id of leases.lost(jobIds)) lockErrors.add(`could not renew lock for job ${id}`);
  });
  jobs.on("failed", (job, error) => {
    // BullMQ fails a job that stalled too often without running the processor: the store must learn of it.
    if (job && /stalled more than allowable limit/.test(error.message)) {
      deps.processJob.deadLetterStalled(job).catch((failure: unknown) => {
        logger.error({ err: failure, jobId: job.data.jobId }, "stalled job could not be dead-lettered");
      });
      return;
    }
    // The processor logs the attempts it ends itself (RetryLaterError, UnrecoverableError); anything else
    // escaped it (Redis or the database failed around the attempt) and is told here.
    if (!(error instanceof RetryLaterError) && !(error instanceof UnrecoverableError)) {
      logger.error(
        { err: error, jobId: job?.data.jobId, attemptsMade: job?.attemptsMade },
        "job attempt failed outside the processor's handling; BullMQ retries it while it has attempts, else the sweep",
      );
    }
  });
  for (const worker of [jobs, webhooks]) {
    worker.on("error", (error) => {
      if (worker === jobs && lockErrors.delete(error.message)) return;
      if (!deps.redisOutage.failed(error)) logger.error({ err: error, queue: worker.name }, "worker error");
    });
    // Its blocking connection may be the one that failed: its reconnection ends the outage too.
    worker.getBackend().on("ready", () => deps.redisOutage.ready());
  }
  // The processor logs the cancellation, with the job's correlation id, when the abort reaches it.
  const stopListening = events.subscribe("cancel", "*", (event) => {
    jobs.cancelJob(event.id, abortReasons.cancelled);
  });

  return {
    jobs,
    webhooks,
    async close({ graceMs }) {
      stopListening();
      const closing = Promise.all([jobs.close(), webhooks.close()]);
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<"grace-over">((resolve) => {
        timer = setTimeout(() => resolve("grace-over"), graceMs);
      });
      if ((await Promise.race([closing, graceOver])) === "grace-over") {
        const running = deps.processJob.running();
        logger.warn(
          {
            graceMs,
            jobIds: running.map((attempt) => attempt.jobId),
            correlationIds: running.map((attempt) => attempt.correlationId),
          },
          "jobs still running after the grace period: releasing them to the queue",
        );
        jobs.cancelAllJobs(abortReasons.shutdown);
      }
      clearTimeout(timer);
      await closing;
    },
  };
}
