/**
 * CI check (`pnpm db:check`), offline: (1) `prisma migrate deploy` applies every migration to a scratch
 * PostgreSQL database; (2) schema.prisma and the migrations have not drifted apart (`migrate diff
 * --exit-code` through a shadow database); (3) migrateDatabase, which the apps run on start, builds
 * the very same schema and leaves records `prisma migrate status` accepts. Needs a PostgreSQL that
 * may create databases: NOA_CHECK_DATABASE_URL, else the local one.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { createDatabase } from "../src/create-database.js";
import { migrateDatabase } from "../src/migrate-database.js";
import { parseDatabaseUrl } from "../src/parse-database-url.js";
import { defaultTestAdminUrl } from "../src/testing/create-test-database.js";
import { runPrisma } from "./run-prisma.js";

const adminUrl = process.env.NOA_CHECK_DATABASE_URL || defaultTestAdminUrl;
const schema = "../../prisma/schema.prisma";
const migrations = "../../prisma/migrations";

async function admin<T extends pg.QueryResultRow>(sql: string): Promise<T[]> {
  const client = new pg.Client(parseDatabaseUrl(adminUrl));
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

function urlOf(database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Tables, columns, types, defaults, constraints, indexes and enums: what a migration decides. */
async function describeSchema(url: string): Promise<string> {
  const client = new pg.Client(parseDatabaseUrl(url));
  await client.connect();
  try {
    const queries = [
      `SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default, character_maximum_length,
              numeric_precision, numeric_scale
         FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2`,
      `SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def
         FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2`,
      `SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2`,
      `SELECT t.typname, e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid ORDER BY 1, e.enumsortorder`,
    ];
    const results = [];
    for (const sql of queries) results.push((await client.query(sql)).rows);
    return JSON.stringify(results, null, 1);
  } finally {
    await client.end();
  }
}

class CheckFailed extends Error {
  constructor(
    message: string,
    readonly detail = "",
  ) {
    super(message);
  }
}

function fail(message: string, detail = ""): never {
  throw new CheckFailed(message, detail);
}

async function shadowDatabases(): Promise<string[]> {
  const rows = await admin<{ datname: string }>(
    "SELECT datname FROM pg_database WHERE datname LIKE 'prisma_migrate_shadow_db_%'",
  );
  return rows.map((row) => row.datname);
}

async function check(): Promise<void> {
  const shadowsBefore = new Set(await shadowDatabases());
  const suffix = randomBytes(4).toString("hex");
  const viaCli = `noa_check_${suffix}_cli`;
  const viaRunner = `noa_check_${suffix}_runner`;
  await admin(`CREATE DATABASE "${viaCli}"`);
  await admin(`CREATE DATABASE "${viaRunner}"`);
  try {
    let started = performance.now();
    const deploy = await runPrisma(["migrate", "deploy"], urlOf(viaCli));
    if (deploy.code !== 0) fail("prisma migrate deploy failed", deploy.stdout + deploy.stderr);
    console.log(`prisma migrate deploy: ok (${Math.round(performance.now() - started)} ms)`);

    started = performance.now();
    const diff = await runPrisma(
      [
        "migrate",
        "diff",
        "--from-migrations",
        migrations,
        "--to-schema-datamodel",
        schema,
        "--script",
        "--exit-code",
      ],
      adminUrl,
    );
    if (diff.code === 2) {
      fail(
        "prisma/schema.prisma and prisma/migrations differ: run `pnpm db:migration <name>` and commit the result.\n",
        diff.stdout,
      );
    }
    if (diff.code !== 0) fail("prisma migrate diff failed", diff.stdout + diff.stderr);
    console.log(`schema.prisma matches the migrations (${Math.round(performance.now() - started)} ms)`);

    started = performance.now();
    const database = await createDatabase({ url: urlOf(viaRunner) });
    try {
      await migrateDatabase(database);
    } finally {
      await database.close();
    }
    const [cliSchema, runnerSchema] = [
      await describeSchema(urlOf(viaCli)),
      await describeSchema(urlOf(viaRunner)),
    ];
    if (cliSchema !== runnerSchema)
      fail("migrateDatabase built a different schema than prisma migrate deploy");
    const status = await runPrisma(["migrate", "status"], urlOf(viaRunner));
    if (status.code !== 0)
      fail("prisma migrate status rejects what migrateDatabase recorded", status.stdout + status.stderr);
    console.log(
      `migrateDatabase: same schema as the CLI, status up to date (${Math.round(performance.now() - started)} ms)`,
    );
  } finally {
    await admin(`DROP DATABASE IF EXISTS "${viaCli}" WITH (FORCE)`);
    await admin(`DROP DATABASE IF EXISTS "${viaRunner}" WITH (FORCE)`);
  }
  // The patched adapter drops its shadow database; an unpatched one leaves it behind.
  const leftovers = (await shadowDatabases()).filter((name) => !shadowsBefore.has(name));
  if (leftovers.length > 0) fail(`shadow databases left behind: ${leftovers.join(", ")}`);
}

try {
  await check();
  console.log("db:check passed");
} catch (error) {
  if (!(error instanceof CheckFailed)) throw error;
  process.stderr.write(`db:check: ${error.message}\n${error.detail}`);
  process.exitCode = 1;
}
