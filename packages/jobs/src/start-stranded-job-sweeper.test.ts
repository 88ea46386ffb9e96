import { randomUUID } from "node:crypto";
import { Worker } from "bullmq";
import { afterEach, describe, expect, it } from "vitest";
import { createInMemoryJobStore } from "./__fixtures__/create-in-memory-job-store.js";
import { openTestQueues } from "./__fixtures__/open-test-queues.js";
import { type QueuedJobData, queueNames } from "./job-queues.js";
import type { JobRecord } from "./job-record.js";
import { startStrandedJobSweeper } from "./start-stranded-job-sweeper.js";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A queued job as PostgreSQL would return it (only what the sweep reads matters). */
function queuedJob(id: string, updatedAt: Date): JobRecord {
  return {
    id,
    tenant: "acme",
    apiKeyId: undefined,
    tokenBudget: undefined,
    type: "ai-inference",
    priority: "high",
    state: "queued",
    spec: {},
    result: undefined,
    error: undefined,
    progress: 0,
    attempts: 0,
    maxAttempts: 3,
    nextAttemptAt: undefined,
    idempotencyKey: undefined,
    callbackUrl: undefined,
    correlationId: `corr-${id}`,
    createdAt: updatedAt,
    updatedAt,
    finishedAt: undefined,
    deliveries: [],
  };
}

describe("startStrandedJobSweeper on a real Redis", () => {
  it("queues again the stale queued jobs BullMQ lost, leaves the ones it holds, and asks only for jobs past the grace period", async () => {
    const { queues, close } = openTestQueues();
    cleanups.push(close);
    const now = Date.UTC(2030, 0, 1, 12, 0);
    const asked: Array<{ before: Date; limit: number }> = [];
    const held = queuedJob("held", new Date(now - 120_000));
    const lost = queuedJob("lost", new Date(now - 90_000));
    await queues.enqueue(held);
    const warnings: unknown[] = [];
    const sweeper = startStrandedJobSweeper({
      store: {
        listStrandedBefore: async (before, limit) => {
          asked.push({ before, limit });
          return [held, lost];
        },
        update: async () => undefined,
      },
      queues,
      events: { publish: async () => {} },
      logger: { debug() {}, info() {}, warn: (fields: unknown) => warnings.push(fields), error() {} },
      intervalMs: 3_600_000,
      graceMs: 60_000,
      batchSize: 50,
      now: () => now,
    });
    cleanups.push(async () => sweeper.stop());

    expect(await sweeper.sweep()).toBe(1);
    expect(asked).toEqual([{ before: new Date(now - 60_000), limit: 50 }]);
    const requeued = await queues.jobs.getJob("lost");
    expect(requeued?.data.jobId).toBe("lost");
    expect(requeued?.opts).toMatchObject({ attempts: 3, priority: 1 });
    expect(warnings).toEqual([expect.objectContaining({ jobId: "lost", correlationId: "corr-lost" })]);
    expect(await queues.jobs.getJobCounts("waiting", "prioritized")).toMatchObject({ prioritized: 2 });

    // Both are on the queue now: a second sweep (another worker's, say) adds nothing.
    expect(await sweeper.sweep()).toBe(0);
    expect(await queues.jobs.count()).toBe(2);
  });
});

describe("startStrandedJobSweeper after Redis came back empty", () => {
  it("queues again retrying jobs past their next attempt time and active jobs no worker runs, counting the lost attempt; leaves the jobs BullMQ holds", async () => {
    const { queues, close } = openTestQueues();
    cleanups.push(close);
    const store = createInMemoryJobStore();
    const stored = async (state: "retrying" | "active", attempts: number) => {
      const { job } = await store.create({
        ...queuedJob(randomUUID(), new Date(0)),
        idempotencyKey: undefined,
      });
      const past = new Date(Date.now() - 120_000);
      return (await store.update(job.id, ["queued"], {
        state,
        attempts,
        nextAttemptAt: state === "retrying" ? past : null,
        updatedAt: past,
      })) as JobRecord;
    };
    const retrying = await stored("retrying", 1);
    const active = await stored("active", 2);
    const running = await stored("active", 1);
    await queues.enqueue(running);
    const changed: string[] = [];
    const sweeper = startStrandedJobSweeper({
      store,
      queues,
      events: { publish: async (event) => void changed.push(event.id) },
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      intervalMs: 3_600_000,
      graceMs: 60_000,
    });
    cleanups.push(async () => sweeper.stop());

    expect(await sweeper.sweep()).toBe(2);
    expect(await queues.jobs.getJob(retrying.id)).toBeDefined();
    expect(await queues.jobs.getJob(active.id)).toBeDefined();
    expect(await store.get(active.id)).toMatchObject({
      state: "retrying",
      attempts: 2,
      error: { code: "ABORTED", retryable: true },
    });
    expect(changed).toEqual([active.id]);
    expect((await store.get(running.id))?.state).toBe("active");
    expect(await sweeper.sweep()).toBe(0);
  });
});

describe("startStrandedJobSweeper racing another sweep and the run it started", () => {
  it("leaves a job a new run made active between its read and its write: the record stays that run's", async () => {
    const { queues, connection, prefix, close } = openTestQueues();
    cleanups.push(close);
    const store = createInMemoryJobStore();
    const { job } = await store.create({
      ...queuedJob(randomUUID(), new Date(0)),
      idempotencyKey: undefined,
    });
    const past = new Date(Date.now() - 120_000);
    // Its first run's worker could not store how it ended: active, and not on the queue.
    await store.update(job.id, ["queued"], { state: "active", attempts: 1, updatedAt: past });
    // A worker of another process, taking jobs by hand so the test decides when the next run starts.
    const worker = new Worker<QueuedJobData>(queueNames.jobs, null, { connection, prefix, autorun: false });
    cleanups.push(() => worker.close());
    const quiet = { debug() {}, info() {}, warn() {}, error() {} };
    const changed: string[] = [];
    const events = { publish: async (event: { id: string }) => void changed.push(event.id) };
    const other = startStrandedJobSweeper({
      store,
      queues,
      events,
      logger: quiet,
      intervalMs: 3_600_000,
      graceMs: 60_000,
    });
    cleanups.push(async () => other.stop());
    // This sweep has read the job (active, run 1) and found it off the queue; before its write lands, the
    // other sweep queues the job again as retrying, and a worker starts run 2, as its processor does.
    let raced = false;
    const sweeper = startStrandedJobSweeper({
      store: {
        listStrandedBefore: (before, limit) => store.listStrandedBefore(before, limit),
        update: async (...args) => {
          if (!raced) {
            raced = true;
            expect(await other.sweep()).toBe(1);
            expect((await worker.getNextJob("run-2"))?.id).toBe(job.id);
            await store.update(job.id, ["retrying"], {
              state: "active",
              attempts: 2,
              progress: 0,
              nextAttemptAt: null,
              updatedAt: new Date(),
            });
          }
          return store.update(...args);
        },
      },
      queues,
      events,
      logger: quiet,
      intervalMs: 3_600_000,
      graceMs: 60_000,
    });
    cleanups.push(async () => sweeper.stop());

    expect(await sweeper.sweep()).toBe(0);
    // Run 2 is running: its record is not set retrying under it (its outcome would then find the job no
    // longer active and be dropped), and no change of this sweep is published.
    expect(await store.get(job.id)).toMatchObject({ state: "active", attempts: 2 });
    expect(changed).toEqual([job.id]);
    expect(await (await queues.jobs.getJob(job.id))?.getState()).toBe("active");
  });
});
