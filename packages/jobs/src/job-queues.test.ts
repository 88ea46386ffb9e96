import { setTimeout as delay } from "node:timers/promises";
import { type Job, UnrecoverableError, Worker } from "bullmq";
import { afterEach, describe, expect, it } from "vitest";
import { openTestQueues } from "./__fixtures__/open-test-queues.js";
import { type QueuedJobData, queueNames } from "./job-queues.js";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function openQueues() {
  const opened = openTestQueues();
  cleanups.push(opened.close);
  return opened;
}

describe("job priorities", () => {
  it("starts a high job submitted behind 1 000 low ones next, and medium before low", async () => {
    const { queues, connection, prefix } = openQueues();
    for (let index = 0; index < 1_000; index++) {
      await queues.enqueue({ id: `low-${index}`, priority: "low", maxAttempts: 1 });
    }
    await queues.enqueue({ id: "medium-0", priority: "medium", maxAttempts: 1 });
    await queues.enqueue({ id: "high-0", priority: "high", maxAttempts: 1 });

    const order: string[] = [];
    const worker = new Worker<QueuedJobData>(
      queueNames.jobs,
      async (job: Job<QueuedJobData>) => {
        order.push(job.data.jobId);
      },
      { connection, prefix, concurrency: 1 },
    );
    cleanups.push(() => worker.close());
    await new Promise<void>((resolve) => {
      worker.on("completed", () => {
        if (order.length >= 4) resolve();
      });
    });
    expect(order.slice(0, 4)).toEqual(["high-0", "medium-0", "low-0", "low-1"]);
  });
});

describe("requeue (RetryJob)", () => {
  /** A worker whose first run of a job fails for good, once `release` is called. */
  function holdFirstRun(opened: ReturnType<typeof openQueues>) {
    const runs: string[] = [];
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const worker = new Worker<QueuedJobData>(
      queueNames.jobs,
      async (job: Job<QueuedJobData>) => {
        runs.push(job.data.jobId);
        if (runs.length === 1) {
          await released;
          throw new UnrecoverableError("the last attempt failed");
        }
      },
      { connection: opened.connection, prefix: opened.prefix },
    );
    cleanups.push(() => worker.close());
    cleanups.push(async () => release());
    return { runs, release };
  }
  const job = { id: "job-1", priority: "medium", maxAttempts: 1 } as const;

  it("queues a job again once the worker still finishing its last attempt lets go of it", async () => {
    const opened = openQueues();
    const worker = holdFirstRun(opened);
    await opened.queues.enqueue(job);
    await expect.poll(() => worker.runs.length).toBe(1);

    // The database already says the job ended; BullMQ still holds it, locked, until the worker is done.
    const requeued = opened.queues.requeue(job);
    await delay(200);
    worker.release();
    expect(await requeued).toBe(true);
    await expect.poll(() => worker.runs).toEqual(["job-1", "job-1"]);
  });

  it("answers false, without queueing, when the worker does not let go within waitMs", async () => {
    const opened = openQueues();
    const worker = holdFirstRun(opened);
    await opened.queues.enqueue(job);
    await expect.poll(() => worker.runs.length).toBe(1);

    expect(await opened.queues.requeue(job, undefined, 100)).toBe(false);
    worker.release();
    await expect.poll(() => opened.queues.jobs.getJob(job.id)).toBeUndefined();
    expect(worker.runs).toEqual(["job-1"]);
  });
});
