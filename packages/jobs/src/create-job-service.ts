import { randomUUID } from "node:crypto";
import { toJson } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type Context, ROOT_CONTEXT } from "@noa/observability";
import { type JobSpec, JobSpecSchema, NotificationChannel } from "@noa/proto";
import type { CallSignal } from "@noa/providers";
import { JobError } from "./job-error.js";
import type { JobEvents } from "./job-events.js";
import type { JobQueues } from "./job-queues.js";
import {
  finalStates,
  type JobPriorityName,
  type JobRecord,
  type JobStateName,
  type JobTokenBudget,
  type JobType,
  type JsonValue,
} from "./job-record.js";
import type { JobStore } from "./job-store.js";
import type { Logger } from "./logger.js";
import { settlesWithin } from "./settles-within.js";
import { enqueueWebhook } from "./webhooks/enqueue-webhook.js";
import { type CallbackPolicy, checkCallbackUrl, type ResolveHost } from "./webhooks/ssrf-guard.js";

/** What the job service needs; built by rpc-server's composition root or a test. */
export interface JobServiceDeps {
  store: JobStore;
  queues: JobQueues;
  events: JobEvents;
  callbackPolicy: CallbackPolicy;
  /** Attempts a job gets before it is dead-lettered (seed design: 3). */
  maxAttempts: number;
  /** False while Redis is unreachable: submissions are refused with UNAVAILABLE rather than lost. */
  isAvailable?: () => boolean;
  /**
   * How long a submission waits for BullMQ to take its job (default 2 s). The job row is already in
   * PostgreSQL, so a Redis that stops answering (connections open, no reply) does not hold the caller:
   * the job is answered as queued, and reaches the queue when Redis answers the pending add, or through
   * the workers' sweep of queued jobs.
   */
  enqueueTimeoutMs?: number;
  logger?: Logger;
  /** Why no worker can ever run a job here (e.g. an embedded database no worker can reach): submissions are refused with FAILED_PRECONDITION. */
  notRunnable?: string;
  resolveHost?: ResolveHost;
  now?: () => number;
  /** How often a watcher re-reads the job when no event arrives (a missed pub/sub message). Default 5 s. */
  watchPollMs?: number;
}

/** A submission, after the face checked the caller's scope (and, for inference, the request itself). */
export interface SubmitJobInput {
  tenant: string;
  apiKeyId: string | undefined;
  /** The submitter's rate-limit key and limits: the worker charges an inference job's tokens to them. */
  tokenBudget: JobTokenBudget | undefined;
  correlationId: string;
  spec: JobSpec;
  priority: JobPriorityName;
  callbackUrl: string | undefined;
  idempotencyKey: string | undefined;
  /** The submitting call's span: the job's attempts continue its trace. */
  traceContext?: Context;
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const maxPageSize = 500;
const day = 24 * 60 * 60 * 1000;

/**
 * The job service both faces (Connect and REST) call: submit (idempotent per tenant and key), get, list,
 * watch, cancel, retry. Every call sees only the caller's tenant: another tenant's job is NOT_FOUND, as
 * if it did not exist. The store is the system of record; the queue carries ids; events say "look again".
 */
export function createJobService(deps: JobServiceDeps) {
  const { store, queues, events, callbackPolicy, maxAttempts, isAvailable = () => true } = deps;
  const now = deps.now ?? Date.now;
  const watchPollMs = deps.watchPollMs ?? 5_000;
  const enqueueTimeoutMs = deps.enqueueTimeoutMs ?? 2_000;

  function requireAvailable(): void {
    if (!isAvailable()) {
      throw new JobError(
        "unavailable",
        "jobs are unavailable: the queue (Redis) cannot be reached; try again later",
      );
    }
  }

  async function enqueueWithin(job: JobRecord, within: Context | undefined): Promise<void> {
    const enqueued = queues.enqueue(job, within);
    if (!(await settlesWithin(enqueued, enqueueTimeoutMs))) {
      deps.logger?.warn(
        { jobId: job.id, correlationId: job.correlationId, timeoutMs: enqueueTimeoutMs },
        "jobs: the queue (Redis) did not take the job in time; it stays queued in the database and is queued when Redis answers",
      );
      enqueued.catch((error: unknown) =>
        deps.logger?.warn(
          { err: error, jobId: job.id, correlationId: job.correlationId },
          "jobs: a late enqueue failed; the sweep queues the job",
        ),
      );
    }
  }

  async function getOwned(tenant: string, id: string): Promise<JobRecord> {
    const job = uuid.test(id) ? await store.get(id.toLowerCase()) : undefined;
    if (!job || job.tenant !== tenant) throw new JobError("not-found", `job "${id}" does not exist`);
    return job;
  }

  async function changed(job: JobRecord | undefined): Promise<void> {
    if (job) await events.publish({ kind: "changed", id: job.id });
  }

  return {
    /** Why no worker can ever run a job here (submissions are refused); undefined when they can. */
    notRunnable: deps.notRunnable,

    async submit(input: SubmitJobInput): Promise<{ job: JobRecord; deduplicated: boolean }> {
      const type = await checkSpec(input.spec, deps);
      const key = input.idempotencyKey;
      if (key !== undefined && (key.length === 0 || key.length > 200)) {
        throw new JobError("invalid-argument", "idempotency_key must hold 1 to 200 characters", {
          field: "idempotency_key",
        });
      }
      const callbackUrl =
        input.callbackUrl === undefined
          ? undefined
          : (await checkCallbackUrl(input.callbackUrl, callbackPolicy, deps.resolveHost)).toString();
      // A bad submission is refused for what is wrong with it, wherever it is sent.
      if (deps.notRunnable) throw new JobError("failed-precondition", deps.notRunnable);
      requireAvailable();
      const { job, created } = await store.create({
        id: randomUUID(),
        tenant: input.tenant,
        apiKeyId: input.apiKeyId,
        tokenBudget: input.tokenBudget,
        type,
        priority: input.priority,
        spec: toJson(JobSpecSchema, input.spec) as JsonValue,
        maxAttempts,
        idempotencyKey: key,
        callbackUrl,
        correlationId: input.correlationId,
        createdAt: new Date(now()),
      });
      // Queued again also for a duplicate still queued: the first submission may have died between the
      // insert and the add, and BullMQ ignores an add whose job id it already holds.
      if (created || job.state === "queued") await enqueueWithin(job, input.traceContext);
      return { job, deduplicated: !created };
    },

    get: getOwned,

    async list(query: {
      tenant: string;
      state: JobStateName | undefined;
      pageSize: number;
      pageToken: string | undefined;
    }): Promise<{ jobs: JobRecord[]; nextPageToken: string | undefined }> {
      if (query.pageSize < 0 || query.pageSize > maxPageSize) {
        throw new JobError("invalid-argument", `page_size must be from 0 to ${maxPageSize} (0: 50)`, {
          field: "page_size",
        });
      }
      if (query.pageToken !== undefined && !/^[0-9]{1,19}$/.test(query.pageToken)) {
        throw new JobError("invalid-argument", "page_token is not one this server issued", {
          field: "page_token",
        });
      }
      const { jobs, nextCursor } = await store.list({
        tenant: query.tenant,
        state: query.state,
        limit: query.pageSize || 50,
        cursor: query.pageToken,
      });
      return { jobs, nextPageToken: nextCursor };
    },

    /**
     * Cancels a queued, retrying or active job; a running one stops its generation. Final jobs are
     * FAILED_PRECONDITION. The callback's delivery continues the trace `traceContext` (the caller's span).
     */
    async cancel(tenant: string, id: string, traceContext: Context = ROOT_CONTEXT): Promise<JobRecord> {
      const job = await getOwned(tenant, id);
      requireAvailable();
      const at = new Date(now());
      const patch = { state: "cancelled" as const, nextAttemptAt: null, finishedAt: at, updatedAt: at };
      let cancelled = await store.update(job.id, ["queued", "retrying"], patch);
      if (cancelled) {
        // Not in the queue any more; a worker that took it meanwhile finds it cancelled and skips it.
        await queues.jobs.remove(job.id).catch(() => 0);
      } else {
        cancelled = await store.update(job.id, ["active"], patch);
        if (cancelled) await events.publish({ kind: "cancel", id: job.id });
      }
      if (!cancelled) {
        const now = await getOwned(tenant, id);
        if (now.state === "cancelled") return now;
        throw new JobError(
          "failed-precondition",
          `job "${id}" is ${now.state.replace("_", "-")}; only queued, retrying or active jobs can be cancelled`,
        );
      }
      await changed(cancelled);
      await enqueueWebhook(queues, cancelled, traceContext);
      return cancelled;
    },

    /** Queues a dead-lettered or failed job again with fresh attempts, continuing the trace `traceContext`. */
    async retry(tenant: string, id: string, traceContext?: Context): Promise<JobRecord> {
      const job = await getOwned(tenant, id);
      requireAvailable();
      const retried = await store.update(job.id, ["dead_lettered", "failed"], {
        state: "queued",
        attempts: 0,
        progress: 0,
        error: null,
        result: null,
        nextAttemptAt: null,
        finishedAt: null,
        updatedAt: new Date(now()),
      });
      if (!retried) {
        // Read again: the state read first may be what a concurrent RetryJob just changed.
        const current = await getOwned(tenant, id);
        throw new JobError(
          "failed-precondition",
          `job "${id}" is ${current.state.replace("_", "-")}; only dead-lettered or failed jobs can be retried`,
        );
      }
      await queues.deadLetter.remove(job.id).catch(() => 0);
      if (!(await queues.requeue(retried, traceContext))) {
        deps.logger?.warn(
          { jobId: job.id, correlationId: job.correlationId },
          "jobs: a worker still holds the retried job's last attempt; the sweep queues it once the worker lets go",
        );
      }
      await changed(retried);
      return retried;
    },

    /** The job now and after every change, until it reaches a final state or `signal` aborts. */
    async *watch(tenant: string, id: string, signal: CallSignal): AsyncGenerator<JobRecord> {
      let job = await getOwned(tenant, id);
      let wake: (() => void) | undefined;
      let pending = false;
      const unsubscribe = events.subscribe("changed", job.id, () => {
        pending = true;
        wake?.();
      });
      const onAbort = () => wake?.();
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        // Re-read after subscribing, so a change between the first read and the subscription is not missed.
        job = await getOwned(tenant, id);
        yield job;
        while (!finalStates.includes(job.state) && !signal.aborted) {
          if (!pending) {
            let timer: NodeJS.Timeout | undefined;
            await new Promise<void>((resolve) => {
              wake = resolve;
              timer = setTimeout(resolve, watchPollMs);
            });
            clearTimeout(timer);
            wake = undefined;
          }
          if (signal.aborted) return;
          pending = false;
          const next = await getOwned(tenant, id);
          if (fingerprint(next) !== fingerprint(job)) yield next;
          job = next;
        }
      } finally {
        unsubscribe();
        signal.removeEventListener("abort", onAbort);
      }
    },
  };
}

/** The job service as the faces use it. */
export type JobService = ReturnType<typeof createJobService>;

function fingerprint(job: JobRecord): string {
  return `${job.state}|${job.progress}|${job.attempts}|${job.updatedAt.getTime()}|${job.deliveries.length}`;
}

/** The job type of a spec, after the checks protobuf types cannot make (the inference request is checked by the face). */
async function checkSpec(spec: JobSpec, deps: JobServiceDeps): Promise<JobType> {
  const invalid = (message: string, field: string) => new JobError("invalid-argument", message, { field });
  switch (spec.kind.case) {
    case "inference":
      return "ai-inference";
    case "notification": {
      const notification = spec.kind.value;
      if (notification.channel === NotificationChannel.UNSPECIFIED) {
        throw invalid(
          "spec.notification.channel must be NOTIFICATION_CHANNEL_WEBHOOK, _EMAIL or _SLACK",
          "spec.notification.channel",
        );
      }
      if (notification.to.trim() === "") {
        throw invalid(
          "spec.notification.to is required: a URL (webhook), an address (email) or a channel (slack)",
          "spec.notification.to",
        );
      }
      if (notification.body === "")
        throw invalid("spec.notification.body must not be empty", "spec.notification.body");
      if (notification.channel === NotificationChannel.WEBHOOK) {
        try {
          await checkCallbackUrl(notification.to, deps.callbackPolicy, deps.resolveHost);
        } catch (error) {
          if (error instanceof JobError) {
            throw invalid(
              error.message.replace(/^callback_url/, "spec.notification.to"),
              "spec.notification.to",
            );
          }
          throw error;
        }
      }
      return "notification";
    }
    case "usageExport": {
      const { startTime, endTime } = spec.kind.value;
      if (!startTime || !endTime) {
        throw invalid(
          "spec.usage_export needs start_time and end_time",
          startTime ? "end_time" : "start_time",
        );
      }
      const from = timestampDate(startTime).getTime();
      const to = timestampDate(endTime).getTime();
      if (!(from < to)) throw invalid("spec.usage_export.start_time must be before end_time", "start_time");
      if (to - from > 366 * day) {
        throw invalid("spec.usage_export may span at most 366 days", "end_time");
      }
      return "data-processing";
    }
    default:
      throw invalid(
        "spec is required: set exactly one of inference (ai-inference), notification or usage_export (data-processing)",
        "spec",
      );
  }
}
