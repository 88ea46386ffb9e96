import { fromJson, type JsonValue as ProtoJson, toJson } from "@bufbuild/protobuf";
import { type Context, extractTraceContext, inSpan, SpanKind } from "@noa/observability";
import { type JobResult, JobResultSchema, JobSpecSchema } from "@noa/proto";
import type { ModelRegistry } from "@noa/providers";
import { type Job, UnrecoverableError, WaitingError } from "bullmq";
import { type BackoffPolicy, backoffDelay } from "../backoff-delay.js";
import type { JobEvents } from "../job-events.js";
import type { JobObserver, JobOutcome } from "../job-observer.js";
import { type JobQueues, type QueuedJobData, queueNames } from "../job-queues.js";
import type { JobFailure, JobRecord, JsonValue } from "../job-record.js";
import type { JobStore } from "../job-store.js";
import type { Logger } from "../logger.js";
import { enqueueWebhook } from "../webhooks/enqueue-webhook.js";
import { classifyJobError, JobAttemptError } from "./job-attempt-error.js";
import { type InferenceAccounting, runInferenceJob } from "./run-inference-job.js";
import { type NotificationDeps, runNotificationJob } from "./run-notification-job.js";
import { runUsageExportJob, type UsageExportSource } from "./run-usage-export-job.js";

/** Why the worker aborted a running job (the abort reason it passes to BullMQ's cancelJob). */
export const abortReasons = { cancelled: "cancelled", shutdown: "shutdown" } as const;

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
}

/**
 * The BullMQ processor of the job queue. The database is the system of record: each attempt marks the
 * job active, runs it by type with the attempt's abort signal, then stores the result (completed), the
 * error with the next attempt time (retrying, then BullMQ waits that long), a non-retryable error
 * (failed, UnrecoverableError: no more attempts), or the last attempt's error (dead-lettered: a copy
 * goes to the dead-letter queue). Every change is published for WatchJob, and a final state queues the
 * callback as a separate step, so a failing webhook never runs the job again. A job cancelled meanwhile
 * is left cancelled; on shutdown a running job is released back to the queue, not failed.
 */
export function createJobProcessor(deps: JobProcessorDeps) {
  const { store, queues, events, logger, backoff } = deps;
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;

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
      // the result.
      if (progress >= 1 || progress - reported < 0.1) return;
      reported = progress;
      store
        .update(job.id, ["active"], { progress, updatedAt: new Date(now()) })
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
   * dead-lettered; returns it, or undefined when it was cancelled meanwhile (nothing parked). Parked
   * first: once the database says dead-lettered, RetryJob may run, and it removes the parked copy.
   */
  async function deadLetter(
    bullJob: Job<QueuedJobData>,
    failure: JobFailure,
    attempts: number,
    within: Context,
  ): Promise<JobRecord | undefined> {
    const at = new Date(now());
    const id = bullJob.data.jobId;
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
    const parked = await store.update(id, ["queued", "active", "retrying"], {
      state: "dead_lettered",
      error: failure,
      finishedAt: at,
      updatedAt: at,
    });
    if (!parked) {
      // Cancelled meanwhile: nothing to park.
      await queues.deadLetter.remove(id);
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
    const attempt = bullJob.attemptsMade + 1;
    const active = await store.update(id, ["queued", "retrying", "active"], {
      state: "active",
      attempts: attempt,
      progress: 0,
      nextAttemptAt: null,
      updatedAt: new Date(now()),
    });
    if (!active) {
      const stored = await store.get(id);
      if (!stored) logger.warn({ jobId: id }, "queued job not in the database; skipped");
      // Cancelled meanwhile, or run again after it finished (a stalled worker died after storing the
      // outcome): only make sure the callback is queued; its BullMQ id makes that a no-op when it is.
      else await enqueueWebhook(queues, stored, within);
      return;
    }
    await publish(active);
    const started = performance.now();
    const observe = (outcome: JobOutcome) =>
      deps.observer?.attempt(outcome, active.type, (performance.now() - started) / 1000);
    const log = { jobId: id, type: active.type, attempt, correlationId: active.correlationId };
    logger.info(log, "job attempt started");
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
      if (aborted.aborted) return release(bullJob, token, aborted.reason, log, observe);
      const failure = classifyJobError(error);
      logger.warn(
        { ...log, err: error, code: failure.code, retryable: failure.retryable },
        "job attempt failed",
      );
      const at = new Date(now());
      if (!failure.retryable) {
        await finish(
          await store.update(id, ["active"], {
            state: "failed",
            error: failure,
            finishedAt: at,
            updatedAt: at,
          }),
          within,
        );
        observe("failed");
        throw new UnrecoverableError(failure.message);
      }
      if (attempt < active.maxAttempts) {
        const delayMs = backoffDelay(attempt, backoff, random);
        await publish(
          await store.update(id, ["active"], {
            state: "retrying",
            error: failure,
            nextAttemptAt: new Date(at.getTime() + delayMs),
            updatedAt: at,
          }),
        );
        observe("retrying");
        throw new RetryLaterError(failure, delayMs);
      }
      await deadLetter(bullJob, failure, attempt, within);
      logger.warn(log, "job dead-lettered after its last attempt");
      throw new UnrecoverableError(failure.message);
    }
    if (aborted.aborted) return release(bullJob, token, aborted.reason, log, observe);
    const at = new Date(now());
    logger.info(log, "job completed");
    observe("completed");
    await finish(
      await store.update(id, ["active"], {
        state: "completed",
        result: toJson(JobResultSchema, result) as JsonValue,
        error: null,
        progress: 1,
        finishedAt: at,
        updatedAt: at,
      }),
      within,
    );
  }

  /**
   * For a job BullMQ failed without running it: its workers died or stalled while running it more often
   * than allowed (BullMQ's stalled limit). It is dead-lettered like an exhausted job, so RetryJob can run it.
   */
  async function deadLetterStalled(bullJob: Job<QueuedJobData>): Promise<void> {
    const parked = await deadLetter(
      bullJob,
      {
        code: "ABORTED",
        message:
          "the workers running this job stopped responding too often (did it crash them?); retry it with RetryJob",
        retryable: true,
      },
      bullJob.attemptsMade + 1,
      extractTraceContext(bullJob.data.trace ?? {}),
    );
    if (parked) {
      logger.error(
        { jobId: parked.id, correlationId: parked.correlationId },
        "job dead-lettered: its workers stalled too often while running it",
      );
    }
  }

  return Object.assign(processJob, { deadLetterStalled });

  /** After an abort: a cancelled job stays cancelled; on shutdown the job goes back to the queue for another worker. */
  async function release(
    bullJob: Job<QueuedJobData>,
    token: string | undefined,
    reason: unknown,
    log: object,
    observe: (outcome: JobOutcome) => void,
  ) {
    if (reason !== abortReasons.shutdown) {
      logger.info(log, "job cancelled while running");
      observe("cancelled");
      return;
    }
    const at = new Date(now());
    await publish(
      await store.update(bullJob.data.jobId, ["active"], { state: "queued", progress: 0, updatedAt: at }),
    );
    await bullJob.moveToWait(token);
    logger.info(log, "job released to the queue: the worker is shutting down");
    observe("released");
    throw new WaitingError();
  }
}
