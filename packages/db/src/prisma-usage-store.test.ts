import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { UsageRecord, UsageStore } from "@noa/access";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDatabase } from "./create-database.js";
import { migrateDatabase } from "./migrate-database.js";
import { createPrismaUsageStore } from "./prisma-usage-store.js";
import { createTestDatabase, type TestDatabase } from "./testing/create-test-database.js";

function usage(overrides: Partial<UsageRecord> = {}): UsageRecord {
  return {
    id: randomUUID(),
    apiKeyId: "key-1",
    tenant: "acme",
    modelRequested: "default",
    provider: "openai",
    modelServed: "gpt-4o-mini",
    promptTokens: 10,
    completionTokens: 5,
    costUsd: 0.000_001_5,
    cached: false,
    cacheTier: undefined,
    status: "ok",
    errorCode: undefined,
    latencyMs: 120,
    correlationId: randomUUID(),
    createdAt: new Date("2030-01-01T10:00:00Z"),
    ...overrides,
  };
}

const january = { from: new Date("2030-01-01T00:00:00Z"), to: new Date("2030-02-01T00:00:00Z") };

describe("createPrismaUsageStore on PostgreSQL", () => {
  let database: TestDatabase;
  let store: UsageStore;
  beforeEach(async () => {
    database = await createTestDatabase();
    store = createPrismaUsageStore(database.prisma);
  });
  afterEach(async () => {
    await database.close();
  });

  it("stores every field of a record", async () => {
    const record = usage({
      apiKeyId: undefined,
      provider: undefined,
      modelServed: undefined,
      status: "error",
      errorCode: "unavailable",
      cached: true,
      cacheTier: "redis",
    });
    await store.insertMany([record]);
    const row = await database.prisma.usageRecord.findUniqueOrThrow({ where: { id: record.id } });
    expect({ ...row, costUsd: row.costUsd.toNumber() }).toEqual({
      ...record,
      apiKeyId: null,
      provider: null,
      modelServed: null,
    });
  });

  it("writes a retried batch once: ids already stored are skipped", async () => {
    const batch = [usage(), usage(), usage()];
    await store.insertMany(batch.slice(0, 2));
    await store.insertMany(batch);
    await store.insertMany(batch);
    await store.insertMany([]);
    expect(await database.prisma.usageRecord.count()).toBe(3);
    const [row] = await store.summarize({ tenant: "acme", ...january });
    expect(row?.requests).toBe(3);
  });

  it("writes a batch larger than one statement holds", async () => {
    const batch = Array.from({ length: 2_500 }, () => usage());
    await store.insertMany(batch);
    await store.insertMany(batch);
    expect(await database.prisma.usageRecord.count()).toBe(2_500);
  });

  it("sums per UTC day, key and model, oldest day first, within [from, to)", async () => {
    await store.insertMany([
      usage({ createdAt: new Date("2030-01-01T00:00:00Z"), costUsd: 0.1 }),
      usage({
        createdAt: new Date("2030-01-01T23:59:59.999Z"),
        costUsd: 0.2,
        cached: true,
        cacheTier: "memory",
      }),
      usage({ createdAt: new Date("2030-01-01T12:00:00Z"), modelRequested: "fast", promptTokens: 7 }),
      usage({ createdAt: new Date("2030-01-01T12:00:00Z"), apiKeyId: "key-2", completionTokens: 9 }),
      usage({ createdAt: new Date("2030-01-01T12:00:00Z"), apiKeyId: undefined, status: "cancelled" }),
      usage({
        createdAt: new Date("2030-01-02T00:00:00Z"),
        promptTokens: 1,
        completionTokens: 2,
        costUsd: 3,
      }),
      // Outside [from, to): the day before, and `to` itself.
      usage({ createdAt: new Date("2029-12-31T23:59:59.999Z") }),
      usage({ createdAt: new Date("2030-01-03T00:00:00Z") }),
    ]);
    const rows = await store.summarize({
      tenant: "acme",
      from: new Date("2030-01-01T00:00:00Z"),
      to: new Date("2030-01-03T00:00:00Z"),
    });
    expect(rows).toEqual([
      {
        day: "2030-01-01",
        apiKeyId: undefined,
        model: "default",
        requests: 1,
        promptTokens: 10,
        completionTokens: 5,
        costUsd: 0.000_001_5,
        cachedRequests: 0,
      },
      {
        day: "2030-01-01",
        apiKeyId: "key-1",
        model: "default",
        requests: 2,
        promptTokens: 20,
        completionTokens: 10,
        costUsd: 0.3,
        cachedRequests: 1,
      },
      {
        day: "2030-01-01",
        apiKeyId: "key-1",
        model: "fast",
        requests: 1,
        promptTokens: 7,
        completionTokens: 5,
        costUsd: 0.000_001_5,
        cachedRequests: 0,
      },
      {
        day: "2030-01-01",
        apiKeyId: "key-2",
        model: "default",
        requests: 1,
        promptTokens: 10,
        completionTokens: 9,
        costUsd: 0.000_001_5,
        cachedRequests: 0,
      },
      {
        day: "2030-01-02",
        apiKeyId: "key-1",
        model: "default",
        requests: 1,
        promptTokens: 1,
        completionTokens: 2,
        costUsd: 3,
        cachedRequests: 0,
      },
    ]);
  });

  it("sums costs exactly: 1 000 tiny prices and 1 000 dimes make 100.0001, not a float approximation", async () => {
    await store.insertMany(Array.from({ length: 1_000 }, () => usage({ costUsd: 0.000_000_1 })));
    await store.insertMany(Array.from({ length: 1_000 }, () => usage({ costUsd: 0.1 })));
    const [row] = await store.summarize({ tenant: "acme", ...january });
    expect(row?.costUsd).toBe(100.0001);
  });

  it("keeps tenants apart", async () => {
    await store.insertMany([usage({ tenant: "acme" }), usage({ tenant: "globex", promptTokens: 99 })]);
    const acme = await store.summarize({ tenant: "acme", ...january });
    const globex = await store.summarize({ tenant: "globex", ...january });
    expect(acme.map((row) => row.promptTokens)).toEqual([10]);
    expect(globex.map((row) => row.promptTokens)).toEqual([99]);
    expect(await store.summarize({ tenant: "initech", ...january })).toEqual([]);
  });
});

describe("createPrismaUsageStore on PGlite", () => {
  it("writes idempotently and summarizes", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "noa-db-"));
    const database = await createDatabase({ dataDir });
    try {
      await migrateDatabase(database);
      const store = createPrismaUsageStore(database.prisma);
      const batch = [
        usage({ costUsd: 0.25 }),
        usage({ costUsd: 0.5, cached: true }),
        usage({ tenant: "globex" }),
      ];
      await store.insertMany(batch);
      await store.insertMany(batch);
      expect(await store.summarize({ tenant: "acme", ...january })).toEqual([
        {
          day: "2030-01-01",
          apiKeyId: "key-1",
          model: "default",
          requests: 2,
          promptTokens: 20,
          completionTokens: 10,
          costUsd: 0.75,
          cachedRequests: 1,
        },
      ]);
    } finally {
      await database.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
