import { create } from "@bufbuild/protobuf";
import { createTestDatabase } from "@noa/db/testing";
import { parseJobsConfig } from "@noa/jobs";
import { createLogger } from "@noa/observability";
import { JobSpecSchema, Role } from "@noa/proto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { startPrivateRedis } from "./__fixtures__/start-private-redis.js";
import { createJobBackend } from "./create-job-backend.js";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("createJobBackend with a Redis that stops answering", () => {
  it("answers a submission as queued after the enqueue timeout, and the job reaches the queue once Redis answers", async () => {
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.close());
    const database = await createTestDatabase();
    cleanups.push(() => database.close());
    const logs: Array<Record<string, unknown>> = [];
    const logger = createLogger({
      service: "rpc-server",
      env: "test",
      destination: { write: (line: string) => logs.push(JSON.parse(line)) },
    });
    const config = parseJobsConfig({ NOA_JOBS_PREFIX: "silent-redis" });
    const backend = await createJobBackend({ redisUrl: redis.url, database, config, logger });
    cleanups.push(() => backend.close());
    const submission = (n: number) => ({
      tenant: "acme",
      apiKeyId: undefined,
      tokenBudget: undefined,
      correlationId: `corr-${n}`,
      spec: create(JobSpecSchema, {
        kind: {
          case: "inference",
          value: { model: "openai/gpt-4o-mini", messages: [{ role: Role.USER, content: "hi" }] },
        },
      }),
      priority: "medium" as const,
      callbackUrl: undefined,
      idempotencyKey: undefined,
    });
    const queued = async (id: string) => {
      const { createJobQueues } = await import("@noa/jobs");
      const { Redis } = await import("ioredis");
      const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
      const queues = createJobQueues({ connection, prefix: config.prefix });
      try {
        return (await queues.jobs.getJob(id)) !== undefined;
      } finally {
        await queues.close();
        connection.disconnect();
      }
    };

    // Answering (once its connection is up): the job is queued at once.
    const { job: first } = await vi.waitFor(() => backend.service.submit(submission(1)));
    expect(await queued(first.id)).toBe(true);

    // Silent (SIGSTOP, connections open): the submission is answered, the row is in PostgreSQL, queued.
    redis.pause();
    const startedAt = performance.now();
    const { job: second } = await backend.service.submit(submission(2));
    const waitedMs = performance.now() - startedAt;
    expect(second.state).toBe("queued");
    expect(waitedMs).toBeGreaterThanOrEqual(1_900);
    expect(waitedMs).toBeLessThan(10_000);
    expect(logs.map((line) => line.msg)).toContain(
      "jobs: the queue (Redis) did not take the job in time; it stays queued in the database and is queued when Redis answers",
    );
    const { rows } = await database.pool.query<{ state: string }>("SELECT state FROM jobs WHERE id = $1", [
      second.id,
    ]);
    expect(rows).toEqual([{ state: "queued" }]);

    // Back: the pending add lands; the job is in BullMQ without a second submission.
    redis.resume();
    await vi.waitFor(async () => expect(await queued(second.id)).toBe(true), { timeout: 10_000 });
  });
});
