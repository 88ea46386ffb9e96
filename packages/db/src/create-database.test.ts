import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createDatabase } from "./create-database.js";
import { migrateDatabase } from "./migrate-database.js";
import { createTestDatabase } from "./testing/create-test-database.js";

describe("createDatabase", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("keeps PGlite data in its directory across a close and a reopen, one process at a time", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "noa-db-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));

    const first = await createDatabase({ dataDir });
    await migrateDatabase(first);
    await first.prisma.cacheEntry.create({
      data: {
        key: "k1",
        tenant: "acme",
        value: { text: "hello" },
        expiresAt: new Date("2030-01-01T00:00:00Z"),
      },
    });
    // Two PGlite instances on one directory would corrupt it.
    await expect(createDatabase({ dataDir })).rejects.toThrow(/in use by process/);
    await first.close();
    await first.close();

    const second = await createDatabase({ dataDir });
    cleanups.push(() => second.close());
    expect(await migrateDatabase(second)).toEqual({ applied: [] });
    expect(await second.prisma.cacheEntry.findUnique({ where: { key: "k1" } })).toMatchObject({
      tenant: "acme",
      value: { text: "hello" },
      expiresAt: new Date("2030-01-01T00:00:00Z"),
    });
  });

  it("connects to PostgreSQL when given a URL", async () => {
    const scratch = await createTestDatabase();
    cleanups.push(() => scratch.close());
    const database = await createDatabase({ url: scratch.url });
    cleanups.push(() => database.close());
    expect(database.kind).toBe("postgres");
    const [row] = await database.prisma.$queryRaw<{ db: string }[]>`SELECT current_database() AS db`;
    expect(row).toEqual({ db: scratch.name });
  });
});
