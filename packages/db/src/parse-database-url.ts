/** Connection settings for `pg` as separate fields (see {@link parseDatabaseUrl} for why never a URL). */
export interface PgConnectionConfig {
  host: string;
  port: number;
  user: string;
  password: string | undefined;
  database: string;
  /** `false`, or TLS with or without certificate checks (libpq's `sslmode`). */
  ssl: false | { rejectUnauthorized: boolean };
}

/**
 * Splits a `postgresql://` URL (DATABASE_URL) into separate fields. `@prisma/adapter-pg` makes its
 * shadow database by overriding `database`; given a `connectionString` that override is lost and the
 * "shadow" is the real database, so the adapter only ever sees fields. `sslmode`: `require` encrypts
 * without checking the certificate, `verify-ca`/`verify-full` check it, anything else (including
 * libpq's `prefer`, which `pg` cannot do) connects without TLS.
 */
export function parseDatabaseUrl(url: string): PgConnectionConfig {
  const parsed = new URL(url);
  if (parsed.protocol !== "postgresql:" && parsed.protocol !== "postgres:") {
    throw new Error(`a database URL starts with postgresql://, not ${parsed.protocol}//`);
  }
  const sslmode = parsed.searchParams.get("sslmode");
  return {
    // libpq's `?host=/var/run/postgresql` names a Unix socket directory.
    host: parsed.searchParams.get("host") || decodeURIComponent(parsed.hostname) || "localhost",
    port: parsed.port === "" ? 5432 : Number(parsed.port),
    user: decodeURIComponent(parsed.username) || "postgres",
    password: parsed.password === "" ? undefined : decodeURIComponent(parsed.password),
    database: decodeURIComponent(parsed.pathname.slice(1)) || "postgres",
    ssl:
      sslmode === "require"
        ? { rejectUnauthorized: false }
        : sslmode === "verify-ca" || sslmode === "verify-full"
          ? { rejectUnauthorized: true }
          : false,
  };
}
