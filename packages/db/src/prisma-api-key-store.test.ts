import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ApiKeyStore, createApiKeyService } from "@noa/access";
import { describeApiKeyStoreContract, newApiKeyRecord } from "@noa/access/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDatabase } from "./create-database.js";
import { migrateDatabase } from "./migrate-database.js";
import { createPrismaApiKeyStore } from "./prisma-api-key-store.js";
import { createTestDatabase, type TestDatabase } from "./testing/create-test-database.js";

describeApiKeyStoreContract("Prisma on PostgreSQL", async () => {
  const database = await createTestDatabase();
  return { store: createPrismaApiKeyStore(database.prisma), close: () => database.close() };
});

describe("createPrismaApiKeyStore on PostgreSQL", () => {
  let database: TestDatabase;
  let store: ApiKeyStore;
  beforeEach(async () => {
    database = await createTestDatabase();
    store = createPrismaApiKeyStore(database.prisma, { now: () => Date.parse("2030-01-01T12:00:00.123Z") });
  });
  afterEach(async () => {
    await database.close();
  });

  it("stamps createdAt from the clock it is given, to the millisecond", async () => {
    const created = await store.create(newApiKeyRecord());
    expect(created.createdAt).toEqual(new Date("2030-01-01T12:00:00.123Z"));
    expect((await store.findByPrefix(created.prefix))?.createdAt).toEqual(created.createdAt);
  });

  it("pages in creation order even when every key has the same createdAt", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await store.create(newApiKeyRecord())).id);
    const first = await store.list({ includeRevoked: false, limit: 2 });
    const second = await store.list({ includeRevoked: false, limit: 2, cursor: first.nextCursor });
    expect([...first.keys, ...second.keys].map((key) => key.id)).toEqual(ids.reverse());
    expect(second.nextCursor).toBeUndefined();
  });

  it("rejects a cursor it did not issue as an invalid argument", async () => {
    await expect(store.list({ includeRevoked: false, limit: 2, cursor: "abc" })).rejects.toMatchObject({
      code: "invalid-argument",
    });
  });

  it("ignores use of an unknown key", async () => {
    await expect(store.touch(randomUUID(), new Date())).resolves.toBeUndefined();
  });

  it("never lets a key's plaintext reach the database, only its prefix and hash", async () => {
    const service = createApiKeyService({ store });
    const { key, record } = await service.create({ name: "ci", tenant: "acme", scopes: ["inference"] });
    const secret = key.slice(record.prefix.length + 1);
    // Every column of every row, as text.
    const { rows } = await database.pool.query<{ row: string }>("SELECT k::text AS row FROM api_keys k");
    expect(rows).toHaveLength(1);
    const stored = rows[0]?.row ?? "";
    expect(stored).toContain(record.prefix);
    expect(stored).toContain(record.hash);
    expect(stored).not.toContain(key);
    expect(stored).not.toContain(secret);
  });
});

describe("createPrismaApiKeyStore on PGlite", () => {
  it("creates, finds, lists, touches and revokes", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "noa-db-"));
    const database = await createDatabase({ dataDir });
    try {
      await migrateDatabase(database);
      const store = createPrismaApiKeyStore(database.prisma);
      const admin = await store.create(
        newApiKeyRecord({ scopes: ["admin"], limits: { requestsPerSecond: 0.5 } }),
      );
      const other = await store.create(
        newApiKeyRecord({ tenant: "globex", expiresAt: new Date("2031-01-01T00:00:00.001Z") }),
      );
      expect(await store.findByPrefix(admin.prefix)).toEqual(admin);
      expect((await store.list({ includeRevoked: false, limit: 1 })).keys).toEqual([other]);
      await store.touch(other.id, new Date("2030-01-01T00:00:00Z"));
      expect(await store.hasActiveAdmin(new Date())).toBe(true);
      await store.revoke(admin.id, new Date("2030-01-01T00:00:00Z"));
      expect(await store.hasActiveAdmin(new Date())).toBe(false);
      expect((await store.findByPrefix(other.prefix))?.lastUsedAt).toEqual(new Date("2030-01-01T00:00:00Z"));
    } finally {
      await database.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
