import { extractTraceContext } from "@noa/observability";
import type { JobEvents } from "./job-events.js";
import type { JobQueues } from "./job-queues.js";
import type { JobRecord } from "./job-record.js";
import type { JobStore } from "./job-store.js";
import type { Logger } from "./logger.js";
import { unstoredResultOf } from "./processors/unstored-result.js";
import { enqueueWebhook } from "./webhooks/enqueue-webhook.js";

/** How often, and how old a stranded job must be before the sweep looks for it on the queue. */
export interface StrandedJobSweeperOptions {
  store: Pick<JobStore, "listStrandedBefore" | "update">;
  queues: JobQueues;
  /** Told of a job the sweep changed (WatchJob). */
  events: Pick<JobEvents, "publish">;
  logger: Logger;
  intervalMs: number;
  /** Jobs changed (or, retrying, due) less than this long ago are left alone. */
  graceMs: number;
  /** The oldest jobs looked at per sweep. Defaults to 500. */
  batchSize?: number;
  now?: () => number;
}

export interface StrandedJobSweeper {
  /** One sweep now: how many jobs it put back on the queue or finished. */
  sweep(): Promise<number>;
  stop(): void;
}

/** BullMQ states in which a job is still to run or running (a worker holds its lock). */
const heldStates = new Set(["waiting", "waiting-children", "prioritized", "delayed", "active"]);

/**
 * PostgreSQL is the system of record; the queue can lose a job PostgreSQL holds as unfinished: the
 * submitting rpc-server died between its insert and its add, Redis came back without its data (queued
 * and retrying jobs), or a worker could not store how an attempt ended (the job stays active, its BullMQ
 * job gone). Every `intervalMs`, the oldest such jobs BullMQ does not hold are queued again; an active one
 * as retrying, its lost attempt counted (past its last attempt, its next run dead-letters it). A completed
 * attempt whose result the database would not take is kept with its BullMQ job: the sweep stores it,
 * without running the job again. Several workers sweeping at once do no harm: an add with an id BullMQ
 * holds is a no-op, and each change is a compare-and-set on the job's state and on the run it read.
 */
export function startStrandedJobSweeper(options: StrandedJobSweeperOptions): StrandedJobSweeper {
  const { store, queues, events, logger, intervalMs, graceMs, batchSize = 500, now = Date.now } = options;
  let running: Promise<number> | undefined;

  /** Puts one stranded job back on the queue (or stores its kept result); whether it did. */
  async function recover(job: JobRecord): Promise<boolean> {
    const log = { jobId: job.id, correlationId: job.correlationId };
    const held = await queues.jobs.getJob(job.id);
    const bullState = held ? await held.getState() : undefined;
    if (bullState !== undefined && heldStates.has(bullState)) return false;
    // Queued and retrying jobs are only put back on the queue, never written: an add under an id BullMQ
    // holds is a no-op, and requeue removes no job a worker has locked. The record is written only below.
    if (job.state === "queued") {
      if (held) return false;
      await queues.enqueue(job);
      logger.warn(log, "queued job was not on the queue: queued again");
      return true;
    }
    if (job.state === "retrying") {
      if (!(await queues.requeue(job, undefined, 0))) return false;
      logger.warn(log, "retrying job was not on the queue (did Redis lose it?): queued again");
      return true;
    }
    const at = new Date(now());
    // Both writes below are compare-and-sets on the run the sweep read (`attempts`), not only on its state:
    // between the read and the write another sweep may have queued the job again and a worker started
    // its next run, which makes the record active again under a higher count. That run's record is not
    // this sweep's to change (set retrying under it, its outcome would find the job no longer active and
    // be dropped; completed, its own outcome would be); the next sweep reads the job again. A run past its
    // last attempt counts nothing, so it can still meet such a write; it only dead-letters the job, from
    // retrying as well.
    const thisRun = { expectedAttempts: job.attempts };
    const unstored = bullState === "completed" ? unstoredResultOf(held?.returnvalue) : undefined;
    if (unstored) {
      const finishedAt = new Date(unstored.finishedAt);
      const completed = await store.update(
        job.id,
        ["active"],
        {
          state: "completed",
          result: unstored.result,
          error: null,
          progress: 1,
          finishedAt,
          updatedAt: at,
        },
        thisRun,
      );
      if (!completed) return false;
      await events.publish({ kind: "changed", id: job.id });
      await enqueueWebhook(queues, completed, extractTraceContext(held?.data.trace ?? {}));
      logger.warn(log, "job completed, but its worker could not store the result: stored from the queue");
      return true;
    }
    const retrying = await store.update(
      job.id,
      ["active"],
      {
        state: "retrying",
        error: {
          code: "ABORTED",
          message: "the worker running this job's attempt could not store how it ended; it runs again",
          retryable: true,
        },
        nextAttemptAt: at,
        updatedAt: at,
      },
      thisRun,
    );
    if (!retrying) return false;
    await events.publish({ kind: "changed", id: job.id });
    // A finished BullMQ job under the same id would make the add a no-op: requeue removes it first.
    // Only a worker's lock makes it false, and no worker holds it: the next sweep sees it retrying.
    await queues.requeue(retrying, extractTraceContext(held?.data.trace ?? {}), 0);
    logger.warn(
      { ...log, attempts: retrying.attempts },
      "active job was not running on the queue (its worker could not store the outcome, or Redis lost it): queued again as retrying",
    );
    return true;
  }

  async function sweepOnce(): Promise<number> {
    const candidates = await store.listStrandedBefore(new Date(now() - graceMs), batchSize);
    let recovered = 0;
    for (const job of candidates) {
      if (await recover(job)) recovered++;
    }
    return recovered;
  }

  function sweep(): Promise<number> {
    running ??= sweepOnce().finally(() => {
      running = undefined;
    });
    return running;
  }

  const timer = setInterval(() => {
    sweep().catch((error: unknown) => logger.warn({ err: error }, "sweep for lost jobs failed"));
  }, intervalMs);
  timer.unref();
  return { sweep, stop: () => clearInterval(timer) };
}
