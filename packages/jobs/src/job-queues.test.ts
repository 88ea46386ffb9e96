import { type Job, Worker } from "bullmq";
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
