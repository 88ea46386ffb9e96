import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JobStore, NewJob } from "@noa/jobs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDatabase } from "./create-database.js";
import { migrateDatabase } from "./migrate-database.js";
import { createPgJobStore } from "./pg-job-store.js";
import { createTestDatabase, type TestDatabase } from "./testing/create-test-database.js";

function newJob(overrides: Partial<NewJob> = {}): NewJob {
  return {
    id: randomUUID(),
    tenant: "acme",
    apiKeyId: "key-1",
    tokenBudget: { key: "key:key-1", limits: { tokensPerMinute: 1_000 } },
    type: "ai-inference",
    priority: "medium",
    spec: { inference: { model: "openai/gpt-4o-mini", messages: [{ role: "ROLE_USER", content: "hi" }] } },
    maxAttempts: 3,
    idempotencyKey: undefined,
    callbackUrl: "https://hooks.example.com/noa",
    correlationId: "corr-1",
    createdAt: new Date("2030-01-01T00:00:00Z"),
    ...overrides,
  };
}

describe("createPgJobStore on PostgreSQL", () => {
  let database: TestDatabase;
  let store: JobStore;
  beforeEach(async () => {
    database = await createTestDatabase();
    store = createPgJobStore(database.pool);
  });
  afterEach(async () => {
    await database.close();
  });

  it("lists the jobs of every tenant stranded since a time, oldest first: queued or active and unchanged, or retrying and due", async () => {
    const at = (minute: number) => new Date(Date.UTC(2030, 0, 1, 0, minute));
    const old = await store.create(newJob({ tenant: "acme", createdAt: at(1) }));
    const older = await store.create(newJob({ tenant: "globex", createdAt: at(0) }));
    const recent = await store.create(newJob({ createdAt: at(30) }));
    const started = await store.create(newJob({ createdAt: at(2) }));
    await store.update(started.job.id, ["queued"], { state: "active", updatedAt: at(3) });
    const due = await store.create(newJob({ createdAt: at(2) }));
    await store.update(due.job.id, ["queued"], { state: "retrying", nextAttemptAt: at(5), updatedAt: at(4) });
    const later = await store.create(newJob({ createdAt: at(2) }));
    await store.update(later.job.id, ["queued"], {
      state: "retrying",
      nextAttemptAt: at(20),
      updatedAt: at(4),
    });
    const done = await store.create(newJob({ createdAt: at(2) }));
    await store.update(done.job.id, ["queued"], { state: "completed", updatedAt: at(3) });

    const stale = await store.listStrandedBefore(at(10), 10);
    expect(stale.map((job) => job.id)).toEqual([older.job.id, old.job.id, started.job.id, due.job.id]);
    expect(await store.listStrandedBefore(at(10), 1)).toHaveLength(1);
    const all = (await store.listStrandedBefore(at(31), 10)).map((job) => job.id);
    expect(all).toEqual(expect.arrayContaining([recent.job.id, later.job.id]));
    expect(all).not.toContain(done.job.id);
  });

  it("stores a job and reads every field back", async () => {
    const input = newJob();
    const { job, created } = await store.create(input);
    expect(created).toBe(true);
    expect(await store.get(input.id)).toEqual({
      ...job,
      state: "queued",
      progress: 0,
      attempts: 0,
      result: undefined,
      error: undefined,
      nextAttemptAt: undefined,
      finishedAt: undefined,
      deliveries: [],
      updatedAt: input.createdAt,
    });
    expect(job).toMatchObject({
      id: input.id,
      tenant: "acme",
      spec: input.spec,
      callbackUrl: input.callbackUrl,
      tokenBudget: { key: "key:key-1", limits: { tokensPerMinute: 1_000 } },
    });
    expect(await store.get(randomUUID())).toBeUndefined();
    const { job: withoutBudget } = await store.create(newJob({ tokenBudget: undefined }));
    expect(withoutBudget.tokenBudget).toBeUndefined();
  });

  it("makes one job of concurrent submissions with the same tenant and key", async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, () => store.create(newJob({ idempotencyKey: "order-1" }))),
    );
    expect(outcomes.filter((outcome) => outcome.created)).toHaveLength(1);
    expect(new Set(outcomes.map((outcome) => outcome.job.id)).size).toBe(1);
    const other = await store.create(newJob({ idempotencyKey: "order-1", tenant: "globex" }));
    expect(other.created).toBe(true);
    // No key: never deduplicated.
    expect((await store.create(newJob())).created).toBe(true);
    expect((await store.create(newJob())).created).toBe(true);
  });

  it("changes state only from the expected states (compare-and-set)", async () => {
    const { job } = await store.create(newJob());
    const at = new Date("2030-01-01T00:01:00Z");
    expect(await store.update(job.id, ["active"], { state: "completed", updatedAt: at })).toBeUndefined();
    const cancelled = await store.update(job.id, ["queued", "retrying"], {
      state: "cancelled",
      finishedAt: at,
      updatedAt: at,
    });
    expect(cancelled).toMatchObject({ state: "cancelled", finishedAt: at, updatedAt: at });
    // A worker finishing the attempt afterwards changes nothing.
    expect(
      await store.update(job.id, ["active"], { state: "completed", result: { x: 1 }, updatedAt: at }),
    ).toBeUndefined();
    expect((await store.get(job.id))?.state).toBe("cancelled");
  });

  it("changes a job only while its attempts are still the expected ones: a run's late write misses the run that took it over", async () => {
    const { job } = await store.create(newJob());
    const at = new Date("2030-01-01T00:01:00Z");
    await store.update(job.id, ["queued"], { state: "active", attempts: 1, updatedAt: at });
    // The second run starts while the first one's outcome is on its way.
    await store.update(job.id, ["active"], { state: "active", attempts: 2, progress: 0, updatedAt: at });
    const late = {
      state: "completed",
      result: { run: 1 },
      progress: 1,
      finishedAt: at,
      updatedAt: at,
    } as const;
    expect(await store.update(job.id, ["active"], late, { expectedAttempts: 1 })).toBeUndefined();
    expect(
      await store.update(job.id, ["active"], { progress: 0.5, updatedAt: at }, { expectedAttempts: 1 }),
    ).toBeUndefined();
    expect(await store.get(job.id)).toMatchObject({
      state: "active",
      attempts: 2,
      progress: 0,
      result: undefined,
    });
    const completed = await store.update(
      job.id,
      ["active"],
      { ...late, result: { run: 2 } },
      { expectedAttempts: 2 },
    );
    expect(completed).toMatchObject({ state: "completed", attempts: 2, result: { run: 2 } });
  });

  it("stores and clears results, errors and retry times", async () => {
    const { job } = await store.create(newJob());
    const at = new Date("2030-01-01T00:01:00Z");
    const error = { code: "UNAVAILABLE", message: "model provider failed", retryable: true };
    expect(
      await store.update(job.id, ["queued"], {
        state: "retrying",
        error,
        nextAttemptAt: at,
        attempts: 1,
        updatedAt: at,
      }),
    ).toMatchObject({ state: "retrying", error, nextAttemptAt: at, attempts: 1 });
    const done = await store.update(job.id, ["retrying"], {
      state: "completed",
      error: null,
      nextAttemptAt: null,
      result: { inference: { text: "hi" } },
      progress: 1,
      updatedAt: at,
    });
    expect(done).toMatchObject({
      error: undefined,
      nextAttemptAt: undefined,
      result: { inference: { text: "hi" } },
    });
    const retried = await store.update(job.id, ["completed"], {
      state: "queued",
      result: null,
      updatedAt: at,
    });
    expect(retried?.result).toBeUndefined();
  });

  it("lists a tenant's jobs newest first, by state, page by page", async () => {
    const ids: string[] = [];
    for (let index = 0; index < 5; index++) {
      const { job } = await store.create(newJob());
      ids.push(job.id);
    }
    await store.create(newJob({ tenant: "globex" }));
    await store.update(ids[1] ?? "", ["queued"], { state: "completed", updatedAt: new Date() });
    const first = await store.list({ tenant: "acme", state: undefined, limit: 2, cursor: undefined });
    const second = await store.list({ tenant: "acme", state: undefined, limit: 2, cursor: first.nextCursor });
    const third = await store.list({ tenant: "acme", state: undefined, limit: 2, cursor: second.nextCursor });
    expect([...first.jobs, ...second.jobs, ...third.jobs].map((job) => job.id)).toEqual([...ids].reverse());
    expect(third.nextCursor).toBeUndefined();
    const completed = await store.list({ tenant: "acme", state: "completed", limit: 10, cursor: undefined });
    expect(completed.jobs.map((job) => job.id)).toEqual([ids[1]]);
  });

  it("records webhook deliveries oldest first", async () => {
    const { job } = await store.create(newJob());
    await store.addDelivery(job.id, {
      attempt: 1,
      statusCode: 500,
      error: "the target answered 500",
      delivered: false,
      at: new Date("2030-01-01T00:00:01Z"),
    });
    await store.addDelivery(job.id, {
      attempt: 2,
      statusCode: 200,
      error: undefined,
      delivered: true,
      at: new Date("2030-01-01T00:00:03Z"),
    });
    expect((await store.get(job.id))?.deliveries).toEqual([
      {
        attempt: 1,
        statusCode: 500,
        error: "the target answered 500",
        delivered: false,
        at: new Date("2030-01-01T00:00:01Z"),
      },
      {
        attempt: 2,
        statusCode: 200,
        error: undefined,
        delivered: true,
        at: new Date("2030-01-01T00:00:03Z"),
      },
    ]);
  });
});

describe("createPgJobStore on PGlite", () => {
  it("runs the same statements on the embedded database", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "noa-db-"));
    const database = await createDatabase({ dataDir });
    try {
      await migrateDatabase(database);
      const store = createPgJobStore(database.pool);
      const { job } = await store.create(newJob({ idempotencyKey: "k" }));
      expect((await store.create(newJob({ idempotencyKey: "k" }))).job.id).toBe(job.id);
      const at = new Date("2030-01-01T00:01:00Z");
      await store.update(job.id, ["queued"], {
        state: "completed",
        result: { ok: true },
        finishedAt: at,
        updatedAt: at,
      });
      await store.addDelivery(job.id, { attempt: 1, statusCode: 200, error: undefined, delivered: true, at });
      expect(await store.get(job.id)).toMatchObject({
        state: "completed",
        result: { ok: true },
        finishedAt: at,
        deliveries: [{ attempt: 1, statusCode: 200, delivered: true, at }],
      });
      const { jobs } = await store.list({ tenant: "acme", state: "completed", limit: 5, cursor: undefined });
      expect(jobs.map((entry) => entry.id)).toEqual([job.id]);
    } finally {
      await database.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
