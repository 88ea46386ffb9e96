import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createTestDatabase } from "@noa/db/testing";
import { parseJobsConfig } from "@noa/jobs";
import { createLogger, createReadiness } from "@noa/observability";
import { JobService, JobSpecSchema, Role } from "@noa/proto";
import { Health, HealthCheckResponse_ServingStatus as Serving } from "@noa/proto/grpc/health/v1";
import { createModelRegistry } from "@noa/providers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createTestAccess, withKey } from "./__fixtures__/create-test-access.js";
import { createFakeProvider } from "./__fixtures__/fake-provider.js";
import { freePort, startPrivateRedis } from "./__fixtures__/start-private-redis.js";
import { createJobBackend } from "./create-job-backend.js";
import { build } from "./server.js";

/** rpc-server's logger, its lines kept as objects. */
function capturedLogger() {
  const logs: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    service: "rpc-server",
    env: "test",
    destination: { write: (line: string) => logs.push(JSON.parse(line)) },
  });
  return { logs, logger };
}

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
    const { logs, logger } = capturedLogger();
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

describe("createJobBackend on the embedded database, which no worker can reach", () => {
  it("refuses good submissions as not runnable and bad ones for what is wrong, and gRPC health says JobService is not serving", async () => {
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.close());
    const database = await createTestDatabase();
    cleanups.push(() => database.close());
    const logger = createLogger({ service: "rpc-server", env: "test", destination: { write: () => {} } });
    const backend = await createJobBackend({
      redisUrl: redis.url,
      // PGlite's kind, on a real pool: what the service decides by is the kind.
      database: { pool: database.pool, kind: "pglite" },
      config: parseJobsConfig({ NOA_JOBS_PREFIX: "embedded" }),
      logger,
    });
    cleanups.push(() => backend.close());
    const access = await createTestAccess();
    cleanups.push(() => access.close());
    const server = build({
      registry: createModelRegistry({ providers: [createFakeProvider().provider] }),
      logger,
      access: access.access,
      jobs: backend.service,
      readiness: createReadiness({
        checks: { database: async () => {}, redis: async () => {} },
        timeoutMs: 500,
      }),
      readinessIntervalMs: 50,
    });
    cleanups.push(() => server.close({ graceMs: 0 }));
    const { port } = await server.listen(0, "127.0.0.1");
    const transport = createGrpcTransport({
      baseUrl: `http://127.0.0.1:${port}`,
      interceptors: [withKey(access.adminKey)],
    });
    const jobs = createClient(JobService, transport);
    const codeOf = (call: Promise<unknown>) =>
      call.then(
        () => undefined,
        (error: unknown) => ConnectError.from(error).code,
      );
    const inference = {
      case: "inference" as const,
      value: { model: "fake/short", messages: [{ role: Role.USER, content: "hi" }] },
    };
    expect(await codeOf(jobs.submitJob({ spec: { kind: inference } }))).toBe(Code.FailedPrecondition);
    expect(await codeOf(jobs.submitJob({}))).toBe(Code.InvalidArgument);
    expect(
      await codeOf(jobs.submitJob({ spec: { kind: inference }, callbackUrl: "https://169.254.169.254/x" })),
    ).toBe(Code.InvalidArgument);

    // Also after readiness has run (every 50 ms) and found every dependency up.
    const health = createClient(Health, transport);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await health.check({ service: JobService.typeName })).status).toBe(Serving.NOT_SERVING);
    expect((await health.check({ service: "noa.inference.v1.InferenceService" })).status).toBe(
      Serving.SERVING,
    );
  });
});

describe("createJobBackend while Redis is unreachable", () => {
  it("says so once (address and code, no stack), not once per reconnection", async () => {
    const port = await freePort();
    const database = await createTestDatabase();
    cleanups.push(() => database.close());
    const { logs, logger } = capturedLogger();
    const backend = await createJobBackend({
      redisUrl: `redis://127.0.0.1:${port}`,
      database,
      config: parseJobsConfig({ NOA_JOBS_PREFIX: "unreachable" }),
      logger,
    });
    cleanups.push(() => backend.close());
    // ioredis retries within a second or two: several attempts, one line.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const problems = logs.filter((line) => Number(line.level) >= 40);
    expect(problems).toEqual([
      expect.objectContaining({
        level: 50,
        code: "ECONNREFUSED",
        msg: `Redis at 127.0.0.1:${port} is unreachable (ECONNREFUSED): SubmitJob answers UNAVAILABLE until it is back`,
      }),
    ]);
    expect(problems[0]).not.toHaveProperty("err");
  });
});
