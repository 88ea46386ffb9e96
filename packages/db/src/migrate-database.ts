import { createHash, randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type pg from "pg";
import type { Logger } from "./logger.js";

/** The repository's `prisma/migrations`, which `prisma migrate dev` writes and this package ships. */
export const defaultMigrationsDir = fileURLToPath(new URL("../../../prisma/migrations", import.meta.url));

// The key `prisma migrate deploy` locks on PostgreSQL, so this runner and the CLI never apply at once.
const prismaMigrateLockKey = 72707369;

/** Options of {@link migrateDatabase}. */
export interface MigrateDatabaseOptions {
  /** Defaults to {@link defaultMigrationsDir}. */
  migrationsDir?: string;
  logger?: Logger;
}

/** What {@link migrateDatabase} did. */
export interface MigrateDatabaseResult {
  /** Migrations applied by this call, oldest first (empty when the database was up to date). */
  applied: string[];
}

interface Migration {
  name: string;
  script: string;
  checksum: string;
}

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

/**
 * Applies pending migrations from `prisma/migrations/<name>/migration.sql` in name order, each in its
 * own transaction, recording them in `_prisma_migrations` exactly as `prisma migrate deploy` does
 * (same table, same sha256 checksums, same advisory lock), so either can run after the other and
 * `prisma migrate status` agrees. It runs in-process over the app's own pool: the Prisma 6 CLI would
 * need a child process, a second connection (PGlite has one) and lingers 10 s after `deploy`.
 * Refuses to run while a migration is recorded as failed, as Prisma does.
 */
export async function migrateDatabase(
  database: { pool: pg.Pool },
  options: MigrateDatabaseOptions = {},
): Promise<MigrateDatabaseResult> {
  const migrations = await readMigrations(options.migrationsDir ?? defaultMigrationsDir);
  const started = performance.now();
  const client = await database.pool.connect();
  let failure: Error | undefined;
  try {
    // Session lock, held across the per-migration transactions; waits while another instance migrates.
    await client.query(unboundedQuery("SELECT pg_advisory_lock($1)", [prismaMigrateLockKey]));
    try {
      const applied = await applyPending(client, migrations, options.logger);
      options.logger?.info(
        { applied, total: migrations.length, ms: Math.round(performance.now() - started) },
        applied.length === 0 ? "database schema is up to date" : "database migrated",
      );
      return { applied };
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [prismaMigrateLockKey]);
    }
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    // A connection that failed mid-migration is discarded rather than returned to the pool.
    client.release(failure);
  }
}

/**
 * Waiting for another instance's migrations and running a migration may take longer than the pool's query
 * timeout (createDatabase's `timeoutMs`) allows an ordinary query: these two wait up to an hour.
 */
const migrationTimeoutMs = 3_600_000;

/** A query with that longer timeout (`query_timeout`, which pg reads per query but does not type). */
function unboundedQuery(text: string, values?: unknown[]): pg.QueryConfig {
  return { text, values, query_timeout: migrationTimeoutMs } as pg.QueryConfig;
}

async function applyPending(client: pg.PoolClient, migrations: Migration[], logger: Logger | undefined) {
  // Prisma's own definition of the table, so the CLI accepts one this runner created.
  await client.query(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
  )`);
  const { rows } = await client.query<AppliedRow>(
    `SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" ORDER BY started_at`,
  );
  const failed = rows.find((row) => row.finished_at === null && row.rolled_back_at === null);
  if (failed) {
    throw new Error(
      `migration ${failed.migration_name} failed earlier and is still recorded as failed: fix the database, then mark it with 'prisma migrate resolve'`,
    );
  }
  const done = new Map(
    rows.filter((row) => row.finished_at !== null).map((row) => [row.migration_name, row]),
  );
  const known = new Set(migrations.map((migration) => migration.name));
  for (const row of done.values()) {
    if (!known.has(row.migration_name)) {
      logger?.warn({ migration: row.migration_name }, "database has a migration this build does not know");
    }
  }

  const applied: string[] = [];
  for (const migration of migrations) {
    const previous = done.get(migration.name);
    if (previous) {
      if (previous.checksum !== migration.checksum) {
        logger?.warn(
          { migration: migration.name },
          "applied migration was edited afterwards; not applied again",
        );
      }
      continue;
    }
    await client.query("BEGIN");
    try {
      const startedAt = new Date();
      // One simple-protocol query: PostgreSQL runs the whole script, every statement, in this transaction.
      await client.query(unboundedQuery(migration.script));
      await client.query(
        `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
         VALUES ($1, $2, $3, $4, now(), 1)`,
        [randomUUID(), migration.checksum, migration.name, startedAt],
      );
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK");
      throw new Error(`migration ${migration.name} failed and was rolled back`, { cause: error });
    }
    logger?.info({ migration: migration.name }, "migration applied");
    applied.push(migration.name);
  }
  return applied;
}

async function readMigrations(dir: string): Promise<Migration[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      // Prisma's checksum is the sha256 of the file's bytes.
      const bytes = await readFile(join(dir, name, "migration.sql"));
      return {
        name,
        script: bytes.toString("utf8"),
        checksum: createHash("sha256").update(bytes).digest("hex"),
      };
    }),
  );
}
