import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createDatabase, type Database } from "./create-database.js";
import { defaultMigrationsDir, migrateDatabase } from "./migrate-database.js";
import { createTestDatabase } from "./testing/create-test-database.js";

const tables = [
  "_prisma_migrations",
  "api_keys",
  "cache_entries",
  "jobs",
  "usage_records",
  "webhook_deliveries",
];

/** Every migration in prisma/migrations, oldest first. */
async function allMigrations(): Promise<string[]> {
  return (await readdir(defaultMigrationsDir)).filter((name) => /^\d{14}_/.test(name)).sort();
}

async function tableNames(database: Database): Promise<string[]> {
  const { rows } = await database.pool.query<{ name: string }>(
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
  );
  return rows.map((row) => row.name);
}

describe("migrateDatabase", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function freshPostgres() {
    const database = await createTestDatabase({ migrate: false });
    cleanups.push(() => database.close());
    return database;
  }

  async function tempDir() {
    const dir = await mkdtemp(join(tmpdir(), "noa-db-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  it("applies every migration to a fresh PostgreSQL database, then nothing on the next start", async () => {
    const database = await freshPostgres();
    const first = await migrateDatabase(database);
    const migrations = await allMigrations();
    expect(migrations[0]).toMatch(/^\d{14}_init$/);
    expect(first.applied).toEqual(migrations);
    expect(await tableNames(database)).toEqual(tables);
    expect(await migrateDatabase(database)).toEqual({ applied: [] });
  });

  it("records migrations as prisma migrate deploy does: name, sha256 of the file, finished", async () => {
    const database = await freshPostgres();
    const { applied } = await migrateDatabase(database);
    const { rows } = await database.pool.query(
      "SELECT migration_name, checksum, finished_at, rolled_back_at, applied_steps_count, logs FROM _prisma_migrations ORDER BY migration_name",
    );
    const expected = [];
    for (const name of applied) {
      const script = await readFile(join(defaultMigrationsDir, name, "migration.sql"));
      expected.push({
        migration_name: name,
        checksum: createHash("sha256").update(script).digest("hex"),
        finished_at: expect.any(Date),
        rolled_back_at: null,
        applied_steps_count: 1,
        logs: null,
      });
    }
    expect(applied).toEqual(await allMigrations());
    expect(rows).toEqual(expected);
  });

  it("rolls a failing migration back whole and applies it once it is fixed", async () => {
    const database = await freshPostgres();
    const dir = await tempDir();
    await cp(defaultMigrationsDir, dir, { recursive: true });
    const broken = join(dir, "99990101000000_broken");
    await mkdir(broken);
    await writeFile(
      join(broken, "migration.sql"),
      'CREATE TABLE "half_done" (id INT);\nALTER TABLE "no_such_table" ADD COLUMN x INT;\n',
    );
    await expect(migrateDatabase(database, { migrationsDir: dir })).rejects.toThrow(
      /99990101000000_broken failed and was rolled back/,
    );
    // The first migration stays applied; nothing of the broken one is left, not even its first table.
    expect(await tableNames(database)).toEqual(tables);

    await writeFile(join(broken, "migration.sql"), 'CREATE TABLE "half_done" (id INT);\n');
    expect(await migrateDatabase(database, { migrationsDir: dir })).toEqual({
      applied: ["99990101000000_broken"],
    });
  });

  it("refuses to run while the CLI has left a migration recorded as failed", async () => {
    const database = await freshPostgres();
    await migrateDatabase(database);
    await database.pool.query(
      `INSERT INTO _prisma_migrations (id, checksum, migration_name, logs) VALUES ('x', 'y', '20990101000000_bad', 'boom')`,
    );
    await expect(migrateDatabase(database)).rejects.toThrow(/20990101000000_bad failed earlier/);
  });

  it("applies the same migrations to a fresh PGlite data directory", async () => {
    const dataDir = await tempDir();
    const database = await createDatabase({ dataDir });
    cleanups.push(() => database.close());
    expect(database.kind).toBe("pglite");
    const { applied } = await migrateDatabase(database);
    expect(applied).toEqual(await allMigrations());
    expect(await tableNames(database)).toEqual(tables);
  });
});
