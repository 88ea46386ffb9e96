import type { JobQueues } from "./job-queues.js";
import type { JobStore } from "./job-store.js";
import type { Logger } from "./logger.js";

/** How often, and how old a queued job must be before the sweep looks for it on the queue. */
export interface QueuedJobSweeperOptions {
  store: Pick<JobStore, "listQueuedBefore">;
  queues: Pick<JobQueues, "jobs" | "enqueue">;
  logger: Logger;
  intervalMs: number;
  /** Jobs queued (or queued again) less than this long ago are left alone. */
  graceMs: number;
  /** The oldest jobs looked at per sweep. Defaults to 500. */
  batchSize?: number;
  now?: () => number;
}

export interface QueuedJobSweeper {
  /** One sweep now: how many jobs it put back on the queue. */
  sweep(): Promise<number>;
  stop(): void;
}

/**
 * PostgreSQL is the system of record; the queue can lose a job that PostgreSQL holds as queued: the
 * submitting rpc-server died between its insert and its add, or Redis came back without its data. Every
 * `intervalMs`, the oldest such jobs that BullMQ does not hold are queued again (an add with an id BullMQ
 * holds is a no-op anyway, so several workers sweeping at once do no harm).
 */
export function startQueuedJobSweeper(options: QueuedJobSweeperOptions): QueuedJobSweeper {
  const { store, queues, logger, intervalMs, graceMs, batchSize = 500, now = Date.now } = options;
  let running: Promise<number> | undefined;

  async function sweepOnce(): Promise<number> {
    const candidates = await store.listQueuedBefore(new Date(now() - graceMs), batchSize);
    let requeued = 0;
    for (const job of candidates) {
      if (await queues.jobs.getJob(job.id)) continue;
      await queues.enqueue(job);
      requeued++;
      logger.warn(
        { jobId: job.id, correlationId: job.correlationId },
        "queued job was not on the queue: queued again",
      );
    }
    return requeued;
  }

  function sweep(): Promise<number> {
    running ??= sweepOnce().finally(() => {
      running = undefined;
    });
    return running;
  }

  const timer = setInterval(() => {
    sweep().catch((error: unknown) => logger.warn({ err: error }, "sweep for lost queued jobs failed"));
  }, intervalMs);
  timer.unref();
  return { sweep, stop: () => clearInterval(timer) };
}
