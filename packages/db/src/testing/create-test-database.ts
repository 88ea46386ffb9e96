import { randomBytes } from "node:crypto";
import pg from "pg";
import { createDatabase, type Database } from "../create-database.js";
import { migrateDatabase } from "../migrate-database.js";
import { parseDatabaseUrl } from "../parse-database-url.js";

/** Where tests find PostgreSQL: the machines' local cluster (trust auth), see ENVIRONMENT.md. */
export const defaultTestAdminUrl = "postgresql://postgres@127.0.0.1:5432/postgres";

/** Options of {@link createTestDatabase}. */
export interface CreateTestDatabaseOptions {
  /** A database on the server that may create and drop others. Defaults to {@link defaultTestAdminUrl}. */
  adminUrl?: string;
  /** Apply the migrations (default) or leave the database empty. */
  migrate?: boolean;
}

/** A {@link Database} of its own for one test, with its name and URL. */
export interface TestDatabase extends Database {
  name: string;
  url: string;
}

/**
 * Creates `noa_test_<random>` on PostgreSQL, migrated, for one test; `close()` drops it. Every test
 * gets its own database, so tests never depend on each other or on their order.
 */
export async function createTestDatabase(options: CreateTestDatabaseOptions = {}): Promise<TestDatabase> {
  const adminUrl = options.adminUrl ?? defaultTestAdminUrl;
  const name = `noa_test_${randomBytes(6).toString("hex")}`;
  await runAdmin(adminUrl, `CREATE DATABASE "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let database: Database;
  try {
    database = await createDatabase({ url: url.toString(), maxConnections: 4 });
    if (options.migrate ?? true) await migrateDatabase(database);
  } catch (error) {
    await runAdmin(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    throw error;
  }
  let dropped: Promise<void> | undefined;
  return {
    ...database,
    name,
    url: url.toString(),
    close() {
      dropped ??= (async () => {
        await database.close();
        await runAdmin(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      })();
      return dropped;
    },
  };
}

async function runAdmin(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client(parseDatabaseUrl(adminUrl));
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
