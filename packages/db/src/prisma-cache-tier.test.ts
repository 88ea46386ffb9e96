import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabase } from "./create-database.js";
import { migrateDatabase } from "./migrate-database.js";
import { createPrismaCacheTier } from "./prisma-cache-tier.js";
import { createTestDatabase, type TestDatabase } from "./testing/create-test-database.js";

const answer = {
  text: "The sea is vast",
  finishReason: "stop",
  usage: { promptTokens: 7, completionTokens: 4 },
  model: "openai/gpt-4o-mini",
  createdAt: 1,
};

describe("createPrismaCacheTier on PostgreSQL", () => {
  let database: TestDatabase;
  let time = Date.parse("2030-01-01T00:00:00Z");
  const now = () => time;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.close();
  });

  it("returns a stored answer with its expiry, and nothing once it has expired", async () => {
    const tier = createPrismaCacheTier(database.prisma, { now });
    await tier.set("k1", { scope: "acme", value: answer, expiresAt: time + 60_000 });
    expect(await tier.get("k1")).toEqual({ value: answer, expiresAt: time + 60_000 });
    expect(await tier.get("unknown")).toBeUndefined();
    const row = await database.prisma.cacheEntry.findUniqueOrThrow({ where: { key: "k1" } });
    expect(row.tenant).toBe("acme");

    time += 60_000;
    expect(await tier.get("k1")).toBeUndefined();
  });

  it("replaces the entry stored again under a key", async () => {
    const tier = createPrismaCacheTier(database.prisma, { now });
    await tier.set("k2", { scope: "acme", value: answer, expiresAt: time + 1_000 });
    await tier.set("k2", { scope: "acme", value: { ...answer, text: "Waves" }, expiresAt: time + 5_000 });
    expect(await tier.get("k2")).toEqual({ value: { ...answer, text: "Waves" }, expiresAt: time + 5_000 });
  });

  it("deletes only expired rows", async () => {
    const tier = createPrismaCacheTier(database.prisma, { now });
    await tier.set("old", { scope: "acme", value: answer, expiresAt: time + 10 });
    await tier.set("fresh", { scope: "acme", value: answer, expiresAt: time + 10_000 });
    time += 100;
    expect(await tier.deleteExpired()).toBeGreaterThanOrEqual(1);
    expect(await database.prisma.cacheEntry.findUnique({ where: { key: "old" } })).toBeNull();
    expect(await tier.get("fresh")).toBeDefined();
  });
});

describe("createPrismaCacheTier on PGlite", () => {
  it("stores, reads back and expires answers in the embedded database", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "noa-db-"));
    const database = await createDatabase({ dataDir });
    try {
      await migrateDatabase(database);
      let time = Date.parse("2030-01-01T00:00:00Z");
      const tier = createPrismaCacheTier(database.prisma, { now: () => time });
      await tier.set("k", { scope: "acme", value: answer, expiresAt: time + 1_000 });
      await tier.set("k", { scope: "acme", value: answer, expiresAt: time + 2_000 });
      expect(await tier.get("k")).toEqual({ value: answer, expiresAt: time + 2_000 });
      time += 2_000;
      expect(await tier.get("k")).toBeUndefined();
      expect(await tier.deleteExpired()).toBe(1);
    } finally {
      await database.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
