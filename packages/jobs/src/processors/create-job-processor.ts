import { fromJson, type JsonValue as ProtoJson, toJson } from "@bufbuild/protobuf";
import { type Context, extractTraceContext, inSpan, SpanKind } from "@noa/observability";
import { type JobResult, JobResultSchema, JobSpecSchema } from "@noa/proto";
import type { ModelRegistry } from "@noa/providers";
import { type Job, UnrecoverableError, WaitingError } from "bullmq";
import { type BackoffPolicy, backoffDelay } from "../backoff-delay.js";
import type { JobEvents } from "../job-events.js";
import type { JobObserver, JobOutcome } from "../job-observer.js";
import { type JobQueues, type QueuedJobData, queueNames } from "../job-queues.js";
import type { JobFailure, JobRecord, JobStateName, JsonValue } from "../job-record.js";
import type { JobPatch, JobStore } from "../job-store.js";
import type { Logger } from "../logger.js";
import { enqueueWebhook } from "../webhooks/enqueue-webhook.js";
import { AttemptTakenOverError } from "./attempt-taken-over-error.js";
import { classifyJobError, JobAttemptError } from "./job-attempt-error.js";
import { type InferenceAccounting, runInferenceJob } from "./run-inference-job.js";
import { type NotificationDeps, runNotificationJob } from "./run-notification-job.js";
import { runUsageExportJob, type UsageExportSource } from "./run-usage-export-job.js";
import type { UnstoredResult } from "./unstored-result.js";
import { writeAttemptOutcome } from "./write-attempt-outcome.js";

/**
 * Why the worker aborted a running job: CancelJob, shutdown (both passed to BullMQ's cancelJob), or the
 * worker lost the job's lock (createLockLeases), so the job runs again elsewhere.
 */
export const abortReasons = { cancelled: "cancelled", shutdown: "shutdown", lockLost: "lock-lost" } as const;

/** An attempt failed and will be retried after `delayMs` (read by the worker's backoffStrategy). */
export class RetryLaterError extends Error {
  readonly delayMs: number;

  constructor(failure: JobFailure, delayMs: number) {
    super(failure.message);
    this.name = "RetryLaterError";
    this.delayMs = delayMs;
  }
}

/** Everything a job attempt may need. */
export interface JobProcessorDeps {
  store: JobStore;
  queues: JobQueues;
  events: JobEvents;
  logger: Logger;
  registry: ModelRegistry;
  accounting: InferenceAccounting;
  usageSource: UsageExportSource;
  notifications: NotificationDeps;
  backoff: BackoffPolicy;
  /** Told how each attempt ended (metrics). */
  observer?: Pick<JobObserver, "attempt">;
  now?: () => number;
  random?: () => number;
  /** Pauses before each new try of a write that ends an attempt (default about 4 s in all). */
  outcomeWriteDelaysMs?: readonly number[];
}

/** A job attempt in progress in this process, as the shutdown log names it. */
export interface RunningAttempt {
  jobId: string;
  correlationId: string;
  attempt: number;
}

/**
 * Which run of its job an attempt is, and which of the job's `maxAttempts` it uses: every run started
 * counts as a run (WatchJob's `attempts`), but a run BullMQ's stalled-job check started again, after its
 * worker died or lost the job's lock, uses none (`maxStalledCount` bounds those).
 */
interface AttemptCount {
  run: number;
  ofMaxAttempts: number;
}

/**
 * The BullMQ processor of the job queue. The database is the system of record: each attempt marks the
 * job active, runs it by type with the attempt's abort signal, then stores the result (completed), the
 * error with the next attempt time (retrying, then BullMQ waits that long), a non-retryable error
 * (failed, UnrecoverableError: no more attempts), or the last attempt's error (dead-lettered: a copy
 * goes to the dead-letter queue). Every change is published for WatchJob, and a final state queues the
 * callback as a separate step, so a failing webhook never runs the job again. A job cancelled meanwhile
 * is left cancelled; on shutdown a running job is released back to the queue, not failed; an attempt
 * whose worker lost the job's lock stops and writes nothing: the run that takes the job over counts it
 * and stores the outcome that stands. The write that ends an attempt is tried again for a few seconds
 * when the database fails; when it still fails, the job stays active in the database (a completed one's
 * result is kept in BullMQ) and the workers' sweep repairs it, see startStrandedJobSweeper.
 */
export function createJobProcessor(deps: JobProcessorDeps) {
  const { store, queues, events, logger, backoff } = deps;
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const running = new Set<RunningAttempt>();

  async function publish(job: JobRecord | undefined): Promise<void> {
    if (job) await events.publish({ kind: "changed", id: job.id });
  }

  /** Publishes a final state and queues its callback, whose delivery continues the trace `within`. */
  async function finish(job: JobRecord | undefined, within: Context): Promise<void> {
    if (!job) return;
    await publish(job);
    await enqueueWebhook(queues, job, within);
  }

  async function run(job: JobRecord, signal: AbortSignal, within: Context): Promise<JobResult> {
    const spec = fromJson(JobSpecSchema, job.spec as ProtoJson);
    let reported = 0;
    const onProgress = (progress: number) => {
      // Stored in steps of a tenth: watchers see movement without a write per token; 1 is stored with
      // the result. Not once the attempt is stopped: what a provider still had buffered is not progress,
      // and after a lost lock the record (still active) may be the next run's. Only while the record is
      // this run's (`attempts` as it made them), as one write may still be on its way when the lock is lost.
      if (signal.aborted || progress >= 1 || progress - reported < 0.1) return;
      reported = progress;
      store
        .update(
          job.id,
          ["active"],
          { progress, updatedAt: new Date(now()) },
          { expectedAttempts: job.attempts },
        )
        .then(publish)
        .catch((error: unknown) =>
          logger.warn(
            { err: error, jobId: job.id, correlationId: job.correlationId },
            "job progress not stored",
          ),
        );
    };
    switch (spec.kind.case) {
      case "inference":
        return runInferenceJob({
          job,
          request: spec.kind.value,
          registry: deps.registry,
          accounting: deps.accounting,
          signal,
          onProgress,
          traceContext: within,
        });
      case "notification":
        return runNotificationJob({ job, notification: spec.kind.value, deps: deps.notifications, signal });
      case "usageExport":
        return runUsageExportJob({ job, request: spec.kind.value, source: deps.usageSource });
      default:
        throw new JobAttemptError({
          code: "INVALID_ARGUMENT",
          message: "the job has no spec",
          retryable: false,
        });
    }
  }

  /**
   * Parks a job in the dead-letter queue (original queue, data, error, attempts) and marks it
   * dead-lettered, if its record still counts `attempts` (see writeAttemptOutcome); returns it, or
   * undefined when it was cancelled meanwhile (nothing parked). Parked first: once the database says
   * dead-lettered, RetryJob may run, and it removes the parked copy.
   */
  async function deadLetter(
    bullJob: Job<QueuedJobData>,
    failure: JobFailure,
    attempts: number,
    within: Context,
    log: object = { jobId: bullJob.data.jobId },
  ): Promise<JobRecord | undefined> {
    const at = new Date(now());
    const id = bullJob.data.jobId;
    // The copies of a job share its id: one an earlier run parked (it lost the job's lock since) gives way
    // to this run's, so the entry says what the run that stands saw.
    const earlier = await queues.deadLetter.getJob(id);
    if (earlier && earlier.data.attempts < attempts) await earlier.remove().catch(() => undefined);
    await queues.deadLetter.add(
      "dead-letter",
      {
        jobId: id,
        originalQueue: queueNames.jobs,
        data: bullJob.data,
        error: failure,
        attempts,
        deadLetteredAt: at.toISOString(),
      },
      { jobId: id, removeOnComplete: true },
    );
    let parked: JobRecord | undefined;
    try {
      parked = await writeOutcome({ id, run: attempts }, ["queued", "active", "retrying"], log, {
        state: "dead_lettered",
        error: failure,
        finishedAt: at,
        updatedAt: at,
      });
    } catch (error) {
      // The record still says active: the sweep queues the job again, and its next run, past its last
      // attempt, dead-letters it without running. Parked meanwhile, it would be counted twice. Or a later
      // run has the job (AttemptTakenOverError): its outcome, not this one, is what stands.
      // Only this run's own copy: a later run that dead-lettered the job too has parked its own.
      await removeOwnCopy(id, attempts).catch(() => undefined);
      throw error;
    }
    if (!parked) {
      // Cancelled meanwhile: nothing to park.
      await removeOwnCopy(id, attempts);
      return undefined;
    }
    deps.observer?.attempt("dead_lettered", parked.type, 0);
    await finish(parked, within);
    return parked;
  }

  /** One attempt, in a span that continues the trace of the request that queued the job. */
  const processJob = (bullJob: Job<QueuedJobData>, token?: string, signal?: AbortSignal) =>
    inSpan(
      "job attempt",
      {
        kind: SpanKind.CONSUMER,
        parent: extractTraceContext(bullJob.data.trace ?? {}),
        attributes: { "noa.job.id": bullJob.data.jobId, "noa.job.attempt": bullJob.attemptsMade + 1 },
      },
      (_span, within) => runAttempt(bullJob, within, token, signal),
    );

  async function runAttempt(
    bullJob: Job<QueuedJobData>,
    within: Context,
    token?: string,
    signal?: AbortSignal,
  ) {
    const id = bullJob.data.jobId;
    const before = await store.get(id);
    const runnable: JobStateName[] = ["queued", "retrying", "active"];
    // Counted as it starts, so a run that never ended (its worker was killed, or stopped when it lost the
    // job's lock) is counted too: an active record is that run's, and this one is the next. BullMQ counts
    // its own job's attempts only; one the sweep queued again (Redis lost it, or its worker could not store
    // the outcome) continues the record's count. A run released on shutdown went back to queued uncounted.
    const run = Math.max(bullJob.attemptsMade + 1, (before?.attempts ?? 0) + 1);
    const count: AttemptCount = {
      run,
      ofMaxAttempts: Math.max(bullJob.attemptsMade + 1, run - bullJob.stalledCounter),
    };
    // Its last attempt ran, but its worker could not store how it ended: not run (nor counted) once more.
    const exhausted = before !== undefined && count.ofMaxAttempts > before.maxAttempts;
    const active =
      before && runnable.includes(before.state)
        ? await store.update(id, [before.state], {
            state: "active",
            attempts: exhausted ? before.attempts : run,
            progress: 0,
            nextAttemptAt: null,
            updatedAt: new Date(now()),
          })
        : undefined;
    if (!active) {
      const stored = await store.get(id);
      if (!stored) logger.warn({ jobId: id }, "queued job not in the database; skipped");
      // Cancelled meanwhile, or run again after it finished (a stalled worker died after storing the
      // outcome): only make sure the callback is queued; its BullMQ id makes that a no-op when it is.
      else if (!runnable.includes(stored.state)) await enqueueWebhook(queues, stored, within);
      // Changed between the read and the write (another worker's stalled run): BullMQ runs it again.
      else throw new Error(`job ${id} changed while its attempt started`);
      return;
    }
    await publish(active);
    const log = { jobId: id, type: active.type, attempt: run, correlationId: active.correlationId };
    if (exhausted) {
      const failure = active.error ?? {
        code: "ABORTED",
        message: "the job's last attempt ended without its outcome stored; retry it with RetryJob",
        retryable: true,
      };
      let parked: JobRecord | undefined;
      try {
        parked = await deadLetter(bullJob, failure, active.attempts, within, log);
      } catch (error) {
        if (error instanceof AttemptTakenOverError) {
          stopForLostLock(log, (outcome) => deps.observer?.attempt(outcome, active.type, 0));
        }
        throw error;
      }
      if (parked) logger.warn(log, "job dead-lettered: its last attempt had already run");
      throw new UnrecoverableError(failure.message);
    }
    logger.info(log, "job attempt started");
    const attempt: RunningAttempt = { jobId: id, correlationId: active.correlationId, attempt: run };
    running.add(attempt);
    try {
      return await settleAttempt(bullJob, active, count, log, within, token, signal);
    } finally {
      running.delete(attempt);
    }
  }

  /** Removes the dead-letter copy of job `id` if the run numbered `attempts` parked it. */
  async function removeOwnCopy(id: string, attempts: number): Promise<void> {
    const copy = await queues.deadLetter.getJob(id);
    if (copy?.data.attempts === attempts) await copy.remove();
  }

  /**
   * Stores the outcome of a finishing attempt while the job is still that run's, trying again while the
   * database fails (writeAttemptOutcome).
   */
  function writeOutcome(
    job: { id: string; run: number },
    from: readonly JobStateName[],
    log: object,
    patch: JobPatch & { state: JobStateName },
  ): Promise<JobRecord | undefined> {
    return writeAttemptOutcome({
      store,
      job,
      from,
      patch,
      delaysMs: deps.outcomeWriteDelaysMs,
      onRetry: (error, retryInMs) =>
        logger.warn(
          { ...log, err: error, state: patch.state, retryInMs },
          "job outcome not stored; trying again",
        ),
    });
  }

  /** Runs an attempt of a job now active and stores how it ended. */
  async function settleAttempt(
    bullJob: Job<QueuedJobData>,
    active: JobRecord,
    count: AttemptCount,
    log: { jobId: string; correlationId: string },
    within: Context,
    token?: string,
    signal?: AbortSignal,
  ): Promise<UnstoredResult | undefined> {
    const id = active.id;
    // Every write that ends this run applies only while the record is still this run's: once its lock is
    // lost, a later run may have started while the write was on its way, and that run's outcome stands.
    const thisRun = { id, run: count.run };
    const started = performance.now();
    const observe = (outcome: JobOutcome) =>
      deps.observer?.attempt(outcome, active.type, (performance.now() - started) / 1000);
    const aborted = signal ?? new AbortController().signal;
    // CancelJob aborts the attempt from createJobWorkers; it is told here, where the job is known.
    const onCancel = () => {
      if (aborted.reason === abortReasons.cancelled) logger.info(log, "cancelling running job");
    };
    if (aborted.aborted) onCancel();
    else aborted.addEventListener("abort", onCancel, { once: true });
    let result: JobResult;
    try {
      result = await run(active, aborted, within);
    } catch (error) {
      if (aborted.aborted) {
        await release(bullJob, token, aborted.reason, count, log, observe);
        return undefined;
      }
      const failure = classifyJobError(error);
      logger.warn(
        { ...log, err: error, code: failure.code, retryable: failure.retryable },
        "job attempt failed",
      );
      const at = new Date(now());
      if (!failure.retryable) {
        const failed = await writeOrLeaveActive(log, observe, () =>
          writeOutcome(thisRun, ["active"], log, {
            state: "failed",
            error: failure,
            finishedAt: at,
            updatedAt: at,
          }),
        );
        if (failed) {
          observe("failed");
          await finish(failed, within);
        } else if (failed === undefined) cancelledMeanwhile(log, observe);
        throw new UnrecoverableError(failure.message);
      }
      if (count.ofMaxAttempts < active.maxAttempts) {
        const delayMs = backoffDelay(count.ofMaxAttempts, backoff, random);
        const retrying = await writeOrLeaveActive(log, observe, () =>
          writeOutcome(thisRun, ["active"], log, {
            state: "retrying",
            error: failure,
            nextAttemptAt: new Date(at.getTime() + delayMs),
            updatedAt: at,
          }),
        );
        if (retrying === undefined) {
          cancelledMeanwhile(log, observe);
          throw new UnrecoverableError(failure.message);
        }
        // Not stored: BullMQ still runs the next attempt, which makes the record active again.
        if (retrying) {
          observe("retrying");
          await publish(retrying);
        }
        throw new RetryLaterError(failure, delayMs);
      }
      const parked = await writeOrLeaveActive(log, observe, () =>
        deadLetter(bullJob, failure, count.run, within, log),
      );
      if (parked) logger.warn(log, "job dead-lettered after its last attempt");
      else if (parked === undefined) cancelledMeanwhile(log, observe);
      throw new UnrecoverableError(failure.message);
    }
    if (aborted.aborted) {
      await release(bullJob, token, aborted.reason, count, log, observe);
      return undefined;
    }
    const at = new Date(now());
    const stored = toJson(JobResultSchema, result) as JsonValue;
    const completed = await writeOrLeaveActive(log, observe, () =>
      writeOutcome(thisRun, ["active"], log, {
        state: "completed",
        result: stored,
        error: null,
        progress: 1,
        finishedAt: at,
        updatedAt: at,
      }),
    );
    if (completed === undefined) return void cancelledMeanwhile(log, observe);
    if (completed === false) {
      // BullMQ keeps it with the completed job; the sweep stores it once the database takes writes.
      return { unstoredResult: { result: stored, finishedAt: at.toISOString() } };
    }
    logger.info(log, "job completed");
    observe("completed");
    await finish(completed, within);
    return undefined;
  }

  /**
   * The outcome `write` stored; false when the database would not take it, logged: the record stays
   * active until the workers' sweep repairs it. A write that found a later run started (this run's lock
   * lost while it was on its way) stops the attempt as a lost lock does.
   */
  async function writeOrLeaveActive(
    log: object,
    observe: (outcome: JobOutcome) => void,
    write: () => Promise<JobRecord | undefined>,
  ): Promise<JobRecord | undefined | false> {
    try {
      return await write();
    } catch (error) {
      if (error instanceof AttemptTakenOverError) stopForLostLock(log, observe);
      logger.error(
        { ...log, err: error },
        "job outcome could not be stored: the job shows active until its next attempt or the workers' sweep repairs it",
      );
      return false;
    }
  }

  /** The attempt ended after CancelJob had cancelled the job: its outcome is dropped. */
  function cancelledMeanwhile(log: object, observe: (outcome: JobOutcome) => void): void {
    logger.info(log, "job cancelled while its attempt was ending: its outcome is discarded");
    observe("cancelled");
  }

  /**
   * For a job BullMQ failed without running it: its workers died or stalled while running it more often
   * than allowed (BullMQ's stalled limit). It is dead-lettered like an exhausted job, so RetryJob can run it.
   */
  async function deadLetterStalled(bullJob: Job<QueuedJobData>): Promise<void> {
    const stalled = await store.get(bullJob.data.jobId);
    if (!stalled) {
      logger.warn({ jobId: bullJob.data.jobId }, "stalled job not in the database; not dead-lettered");
      return;
    }
    const parked = await deadLetter(
      bullJob,
      {
        code: "ABORTED",
        message:
          "the workers running this job stopped responding too often (did it crash them?); retry it with RetryJob",
        retryable: true,
      },
      // The runs its record counts (WatchJob's attempts), as the other dead-letter entries say: BullMQ's
      // attemptsMade counts none of the runs that stalled, and restarts with a job the sweep queued again.
      stalled.attempts,
      extractTraceContext(bullJob.data.trace ?? {}),
    );
    if (parked) {
      logger.error(
        { jobId: parked.id, correlationId: parked.correlationId },
        "job dead-lettered: its workers stalled too often while running it",
      );
    }
  }

  return Object.assign(processJob, {
    deadLetterStalled,
    /** The attempts this process is running now. */
    running: (): RunningAttempt[] => [...running.values()],
  });

  /**
   * Stops an attempt whose job another run has now (this worker lost the job's lock): its record is left
   * as it is, and the run that takes the job over counts this one and stores the outcome that stands.
   * BullMQ, told WaitingError, leaves the job alone (its lock is not ours).
   */
  function stopForLostLock(log: object, observe: (outcome: JobOutcome) => void): never {
    logger.warn(
      log,
      "job attempt stopped: this worker lost the job's lock (Redis unreachable for longer than the lock lasts?); the job runs again, and that run's outcome is the one stored",
    );
    observe("lock_lost");
    throw new WaitingError();
  }

  /**
   * After an abort: a cancelled job stays cancelled; on shutdown the job goes back to the queue for another
   * worker; a job whose lock this worker lost is another run's now, and left to it.
   */
  async function release(
    bullJob: Job<QueuedJobData>,
    token: string | undefined,
    reason: unknown,
    count: AttemptCount,
    log: object,
    observe: (outcome: JobOutcome) => void,
  ) {
    if (reason === abortReasons.lockLost) stopForLostLock(log, observe);
    if (reason !== abortReasons.shutdown) {
      logger.info(log, "job cancelled while running");
      observe("cancelled");
      return;
    }
    const at = new Date(now());
    let released: JobRecord | undefined;
    try {
      // Handed back uncounted: BullMQ does not count it either. Not once a later run has the job (this
      // run's lock lost as it shut down): that run's record would go back to queued under it. One try:
      // shutting down is no time to wait for the database.
      released = await writeAttemptOutcome({
        store,
        job: { id: bullJob.data.jobId, run: count.run },
        from: ["active"],
        patch: { state: "queued", attempts: count.run - 1, progress: 0, updatedAt: at },
        delaysMs: [],
      });
    } catch (error) {
      if (error instanceof AttemptTakenOverError) stopForLostLock(log, observe);
      throw error;
    }
    await publish(released);
    await bullJob.moveToWait(token);
    logger.info(log, "job released to the queue: the worker is shutting down");
    observe("released");
    throw new WaitingError();
  }
}
