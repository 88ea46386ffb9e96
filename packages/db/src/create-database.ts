import { join } from "node:path";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaClient } from "./generated/prisma/client.js";
import type { Logger } from "./logger.js";
import { parseDatabaseUrl } from "./parse-database-url.js";
import { startPgliteServer } from "./start-pglite-server.js";

/** Options of {@link createDatabase}. */
export interface CreateDatabaseOptions {
  /** DATABASE_URL (`postgresql://…`); without it an embedded PGlite under `dataDir` is used. */
  url?: string;
  /** NOA_DATA_DIR; PGlite keeps its files in `<dataDir>/pglite`. Defaults to `.noa`. */
  dataDir?: string;
  /** Connections to PostgreSQL at most (PGlite always has one). Defaults to 10. */
  maxConnections?: number;
  /**
   * NOA_DATABASE_TIMEOUT_MS: how long a query waits for its answer, and (PostgreSQL) a call for a
   * connection, before it fails. A database that keeps its connections open but stops answering then
   * fails calls instead of holding them; the connection of a query given up is closed. Defaults to 10 s.
   */
  timeoutMs?: number;
  logger?: Logger;
}

/** One database: a Prisma client over `pg`, and how to shut it down. */
export interface Database {
  prisma: PrismaClient;
  /** The `pg` pool Prisma runs on; {@link migrateDatabase} borrows one connection from it. */
  pool: pg.Pool;
  kind: "postgres" | "pglite";
  /** Disconnects Prisma, ends the pool and, for PGlite, stops it; safe to call twice. */
  close(): Promise<void>;
}

/**
 * Connects to PostgreSQL when given a URL, otherwise starts PGlite (PostgreSQL in WebAssembly)
 * persisted under `dataDir` and serves it on a loopback port: both are reached the same way, through
 * `@prisma/adapter-pg`, so one schema and one set of migrations serve both. Nothing is migrated here
 * (see {@link migrateDatabase}); no client is shared between calls.
 */
export async function createDatabase(options: CreateDatabaseOptions = {}): Promise<Database> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (options.url !== undefined && options.url !== "") {
    const config = parseDatabaseUrl(options.url);
    const pool = newPool(
      {
        ...config,
        max: options.maxConnections ?? 10,
        query_timeout: timeoutMs,
        connectionTimeoutMillis: timeoutMs,
      },
      options.logger,
    );
    const { host, port, database } = config;
    options.logger?.info({ kind: "postgres", host, port, database }, "database configured");
    return wrap(pool, "postgres", async () => {});
  }

  const dataDir = join(options.dataDir ?? ".noa", "pglite");
  const started = performance.now();
  const server = await startPgliteServer({ dataDir });
  options.logger?.info(
    { kind: "pglite", dataDir, port: server.port, startMs: Math.round(performance.now() - started) },
    "embedded database started",
  );
  const pool = newPool(
    {
      host: server.host,
      port: server.port,
      user: "postgres",
      password: undefined,
      database: "postgres",
      // sslmode=disable: loopback only.
      ssl: false,
      // PGlite is a single session: one connection, so transactions never interleave. Calls queue for
      // it under load, so only the query itself is bounded.
      max: 1,
      query_timeout: timeoutMs,
    },
    options.logger,
  );
  return wrap(pool, "pglite", () => server.close());
}

function newPool(config: pg.PoolConfig, logger: Logger | undefined): pg.Pool {
  // No session settings (e.g. TimeZone): Prisma writes every DateTime, now() defaults included, as UTC.
  const pool = new pg.Pool(config);
  // An idle connection that breaks (database restart) must not crash the process; the pool replaces it.
  pool.on("error", (error) => logger?.warn({ err: error }, "idle database connection failed"));
  return pool;
}

function wrap(pool: pg.Pool, kind: Database["kind"], stop: () => Promise<void>): Database {
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  let closed: Promise<void> | undefined;
  return {
    prisma,
    pool,
    kind,
    close() {
      closed ??= (async () => {
        await prisma.$disconnect();
        await pool.end();
        await stop();
      })();
      return closed;
    },
  };
}
