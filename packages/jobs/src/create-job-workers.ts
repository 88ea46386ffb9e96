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
import { settlesWithin } from "./settles-within.js";

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
   * (another worker runs them) and waits for that. With Redis unreachable, BullMQ could never finish
   * closing: the released attempts get `releaseMs` (1 s) to store that they were released, then the
   * workers are closed without waiting for Redis. What they still had to tell Redis is lost: a released
   * job's BullMQ job stays active until its lock expires, and one whose record could not be written stays
   * active for the sweep (startStrandedJobSweeper). Calling it again returns the same close.
   */
  close(options: { graceMs: number; releaseMs?: number }): Promise<void>;
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
  // Every job and delivery this process runs, so a close that cannot wait for BullMQ waits for them.
  const inFlight = new Set<Promise<unknown>>();
  function track<T>(run: Promise<T>): Promise<T> {
    inFlight.add(run);
    run.then(
      () => inFlight.delete(run),
      () => inFlight.delete(run),
    );
    return run;
  }
  const processJob = (job: Job<QueuedJobData>, token?: string, signal?: AbortSignal) =>
    track(
      leases.hold(
        { jobId: job.id ?? job.data.jobId, lockedAt: job.processedOn ?? Date.now(), signal },
        (held) => deps.processJob(job, token, held),
      ),
    );
  const deliverWebhook = (job: Job<QueuedJobData>, token?: string, signal?: AbortSignal) =>
    track(deps.deliverWebhook(job, token, signal));
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
  const webhooks = new Worker<QueuedJobData>(queueNames.webhooks, deliverWebhook, {
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

  /** Tells which attempts still run after the grace period and releases them (abortReasons.shutdown). */
  function releaseRunning(graceMs: number): void {
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

  /** BullMQ's own close: it waits for the jobs running (released after the grace period) to end. */
  async function closeGracefully(graceMs: number): Promise<void> {
    const closing = Promise.all([jobs.close(), webhooks.close()]);
    if (!(await settlesWithin(closing, graceMs))) {
      releaseRunning(graceMs);
      await closing;
    }
  }

  /**
   * While Redis is unreachable: BullMQ's own close would wait for ever (see canCloseItself), so this process
   * stops taking jobs, waits for the running ones as BullMQ would, releases the rest after the grace
   * period, and, once their records are written (or `releaseMs` is over), closes the workers forced:
   * without waiting for what they still have to tell Redis.
   */
  async function closeForced(graceMs: number, releaseMs: number): Promise<void> {
    await Promise.all([jobs.pause(true), webhooks.pause(true)]);
    const ended = () => Promise.allSettled([...inFlight]);
    if (inFlight.size > 0 && !(await settlesWithin(ended(), graceMs))) {
      releaseRunning(graceMs);
      // A released attempt writes its record (one try), then tells Redis, which never answers.
      await settlesWithin(ended(), releaseMs);
    }
    logger.warn(
      { running: deps.processJob.running().map((attempt) => attempt.jobId) },
      "Redis is unreachable: job workers closed without waiting for it",
    );
    await Promise.all([jobs.close(true), webhooks.close(true)]);
  }

  let closed: Promise<void> | undefined;
  return {
    jobs,
    webhooks,
    close({ graceMs, releaseMs = 1_000 }) {
      closed ??= (async () => {
        stopListening();
        const [jobsCanClose, webhooksCanClose] = await Promise.all([
          canCloseItself(jobs),
          canCloseItself(webhooks),
        ]);
        // Decided once, up front (a started close cannot be forced later): Redis lost during the grace
        // period, or a connection that died a moment before it noticed, still leaves BullMQ's close waiting,
        // and the app's shutdown deadline ends the process. One briefly reconnecting is closed forced.
        await (jobsCanClose && webhooksCanClose ? closeGracefully(graceMs) : closeForced(graceMs, releaseMs));
      })();
      return closed;
    },
  };
}

/**
 * Whether BullMQ's own (not forced) close of `worker` can finish: it first ends the worker's blocking
 * connection and waits for its `end`, which ioredis never emits for a connection that is reconnecting
 * (Redis unreachable) — and, its retry timer cleared, that connection stays so even once Redis is back.
 */
async function canCloseItself(worker: Worker<QueuedJobData>): Promise<boolean> {
  const blocking = worker.getBackend().blockingConnection;
  if (!blocking) return true;
  // Never ready: its client is still to come, and the close would wait for it.
  if (blocking.status !== "ready") return false;
  return (await blocking.client).status === "ready";
}
