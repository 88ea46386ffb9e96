import { availableParallelism } from "node:os";
import path from "node:path";
import { type JwtVerifierOptions, rateLimitDefaultsFromEnv } from "@noa/access";
import { type ConfigFile, type ProxySettings, proxySettingsFromEnv, readConfigFile } from "@noa/providers";
import type { CorsOrigins } from "./http/create-cors.js";

/** rpc-server configuration, read once from the environment by main.ts (DESIGN.md's table). */
export interface Config {
  host: string;
  port: number;
  logLevel: string;
  /** Pretty, human-readable logs instead of JSON (development only). */
  prettyLogs: boolean;
  dataDir: string;
  localModelPath: string | undefined;
  modelsDir: string;
  llamaThreads: number;
  maxLoadedModels: number;
  sequencesPerModel: number;
  /** How long in-flight calls may run on after SIGTERM before they are ended. */
  shutdownGraceMs: number;
  /** PostgreSQL URL; undefined means the embedded PGlite under dataDir. */
  databaseUrl: string | undefined;
  /** NOA_DATABASE_TIMEOUT_MS: a query (or a wait for a connection) that takes longer fails. */
  databaseTimeoutMs: number;
  redisUrl: string;
  /** NOA_MASTER_KEY: the bootstrap admin key (a `noa_…` key), stored as a hash only. */
  masterKey: string | undefined;
  /** How long a validated API key is trusted without a database lookup: revocation delay on other replicas. */
  keyCacheTtlMs: number;
  jwt: JwtVerifierOptions | undefined;
  rateLimitDefaults: { requestBurst: number; requestsPerSecond: number; tokensPerMinute: number };
  openai: { apiKey: string; baseURL: string | undefined } | undefined;
  anthropic: { apiKey: string; baseURL: string | undefined } | undefined;
  /** HTTPS_PROXY, HTTP_PROXY and NO_PROXY: the outbound proxy OpenAI and Anthropic are reached through. */
  proxy: ProxySettings;
  /** The NOA_CONFIG file (routing table and policies, prices); empty without one. */
  configFile: ConfigFile;
  /** CORS_ORIGIN: browser origins allowed to call (`*` or a comma list); undefined sends no CORS headers. */
  corsOrigins: CorsOrigins | undefined;
  /** NOA_MAX_BODY_BYTES: largest REST request body (413 beyond). */
  maxBodyBytes: number;
  /** NOA_REQUEST_TIMEOUT_MS: how long a client may take to send a whole request (408 after); 0: no limit. */
  requestTimeoutMs: number;
  /** The response cache (NOA_CACHE_*). */
  cache: CacheConfig;
  /** NOA_METRICS_TOKEN: when set, GET /metrics needs it as a Bearer token. */
  metricsToken: string | undefined;
  /** NOA_LOG_CONTENT=on: log each completion's prompt and answer (masked); off by default. */
  logContent: boolean;
}

/** Which cache tiers run, how long each keeps an answer, how big memory may grow, and who shares answers. */
export interface CacheConfig {
  /** NOA_CACHE_TIERS: the tiers, fastest first (`none`: no cache). */
  tiers: Array<"memory" | "redis" | "database">;
  /** NOA_CACHE_SCOPE: answers shared by all tenants (`shared`) or kept per tenant. */
  shared: boolean;
  /** NOA_CACHE_COALESCE: identical requests in flight share one upstream call. */
  coalesce: boolean;
  memoryTtlMs: number;
  redisTtlMs: number;
  databaseTtlMs: number;
  memoryMaxEntries: number;
  memoryMaxBytes: number;
  /** NOA_CACHE_TIER_TIMEOUT_MS: a Redis or database read that takes longer is given up (a miss). */
  tierTimeoutMs: number;
}

/** Parses the environment; throws an Error naming the variable and what it accepts. */
export function parseConfig(env: NodeJS.ProcessEnv): Config {
  // pnpm runs the app in its package directory; relative paths mean the directory the user ran it from.
  const cwd = env.INIT_CWD ?? process.cwd();
  const dataDir = path.resolve(cwd, env.NOA_DATA_DIR ?? ".noa");
  return {
    host: env.HOST ?? "127.0.0.1",
    port: integer(env, "PORT", 8080, 0, 65_535),
    logLevel: oneOf(env, "LOG_LEVEL", "info", ["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
    prettyLogs: env.NODE_ENV === "development",
    dataDir,
    localModelPath: env.NOA_LOCAL_MODEL_PATH ? path.resolve(cwd, env.NOA_LOCAL_MODEL_PATH) : undefined,
    modelsDir: path.resolve(cwd, env.NOA_MODELS_DIR ?? path.join(dataDir, "models")),
    llamaThreads: integer(env, "NOA_LLAMA_THREADS", availableParallelism(), 1, 1024),
    maxLoadedModels: integer(env, "NOA_MAX_LOADED_MODELS", 10, 1, 1000),
    sequencesPerModel: integer(env, "NOA_LLAMA_SEQUENCES", 4, 1, 256),
    shutdownGraceMs: integer(env, "NOA_SHUTDOWN_GRACE_MS", 10_000, 0, 3_600_000),
    databaseUrl: env.DATABASE_URL || undefined,
    databaseTimeoutMs: integer(env, "NOA_DATABASE_TIMEOUT_MS", 10_000, 100, 3_600_000),
    redisUrl: env.REDIS_URL || "redis://127.0.0.1:6379",
    masterKey: env.NOA_MASTER_KEY || undefined,
    keyCacheTtlMs: integer(env, "NOA_KEY_CACHE_TTL_MS", 30_000, 0, 3_600_000),
    jwt: parseJwt(env),
    rateLimitDefaults: rateLimitDefaultsFromEnv(env),
    openai: env.OPENAI_API_KEY
      ? { apiKey: env.OPENAI_API_KEY, baseURL: env.OPENAI_BASE_URL || undefined }
      : undefined,
    anthropic: env.ANTHROPIC_API_KEY
      ? { apiKey: env.ANTHROPIC_API_KEY, baseURL: env.ANTHROPIC_BASE_URL || undefined }
      : undefined,
    proxy: proxySettingsFromEnv(env),
    configFile: env.NOA_CONFIG ? readConfigFile(path.resolve(cwd, env.NOA_CONFIG)) : {},
    corsOrigins: parseCorsOrigins(env.CORS_ORIGIN),
    maxBodyBytes: integer(env, "NOA_MAX_BODY_BYTES", 1024 * 1024, 1024, 1024 * 1024 * 1024),
    requestTimeoutMs: integer(env, "NOA_REQUEST_TIMEOUT_MS", 30_000, 0, 3_600_000),
    cache: parseCacheConfig(env),
    metricsToken: env.NOA_METRICS_TOKEN || undefined,
    logContent: oneOf(env, "NOA_LOG_CONTENT", "off", ["on", "off"]) === "on",
  };
}

const cacheTierNames = ["memory", "redis", "database"] as const;

function parseCacheConfig(env: NodeJS.ProcessEnv): CacheConfig {
  const raw = env.NOA_CACHE_TIERS?.trim() || cacheTierNames.join(",");
  const tiers =
    raw === "none"
      ? []
      : raw.split(",").map((entry) => {
          const tier = entry.trim() as CacheConfig["tiers"][number];
          if (!cacheTierNames.includes(tier)) {
            throw new Error(
              `NOA_CACHE_TIERS must be "none" or a comma list of memory, redis, database (got "${raw}")`,
            );
          }
          return tier;
        });
  const day = 24 * 60 * 60;
  return {
    tiers: cacheTierNames.filter((tier) => tiers.includes(tier)),
    shared: oneOf(env, "NOA_CACHE_SCOPE", "tenant", ["tenant", "shared"]) === "shared",
    coalesce: oneOf(env, "NOA_CACHE_COALESCE", "on", ["on", "off"]) === "on",
    memoryTtlMs: integer(env, "NOA_CACHE_MEMORY_TTL_S", 300, 1, 365 * day) * 1000,
    redisTtlMs: integer(env, "NOA_CACHE_REDIS_TTL_S", 3_600, 1, 365 * day) * 1000,
    databaseTtlMs: integer(env, "NOA_CACHE_DATABASE_TTL_S", 30 * day, 1, 10 * 365 * day) * 1000,
    memoryMaxEntries: integer(env, "NOA_CACHE_MEMORY_MAX_ENTRIES", 10_000, 1, 10_000_000),
    memoryMaxBytes: integer(env, "NOA_CACHE_MEMORY_MAX_BYTES", 64 * 1024 * 1024, 1024, 64 * 1024 ** 3),
    tierTimeoutMs: integer(env, "NOA_CACHE_TIER_TIMEOUT_MS", 500, 1, 60_000),
  };
}

function parseCorsOrigins(raw: string | undefined): CorsOrigins | undefined {
  if (raw === undefined || raw.trim() === "") return undefined;
  if (raw.trim() === "*") return "*";
  return raw.split(",").map((entry) => {
    const origin = entry.trim();
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {}
    // An origin is scheme://host[:port] exactly as browsers send it: no path, no trailing slash.
    if (parsed?.origin !== origin) {
      throw new Error(
        `CORS_ORIGIN must be "*" or a comma-separated list of origins such as https://app.example.com (got "${origin}")`,
      );
    }
    return origin;
  });
}

function parseJwt(env: NodeJS.ProcessEnv): Config["jwt"] {
  const {
    NOA_JWT_SECRET: secret,
    NOA_JWT_JWKS_URL: jwksUrl,
    NOA_JWT_ISSUER: issuer,
    NOA_JWT_AUDIENCE: audience,
  } = env;
  if (!secret && !jwksUrl) return undefined;
  if (secret && jwksUrl) throw new Error("set NOA_JWT_SECRET or NOA_JWT_JWKS_URL, not both");
  if (!issuer || !audience) throw new Error("JWT verification needs NOA_JWT_ISSUER and NOA_JWT_AUDIENCE");
  return secret ? { issuer, audience, secret } : { issuer, audience, jwksUrl: jwksUrl ?? "" };
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
  }
  return value;
}

function oneOf<T extends string>(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: T,
  allowed: readonly T[],
): T {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!allowed.includes(raw as T))
    throw new Error(`${name} must be one of ${allowed.join(", ")} (got "${raw}")`);
  return raw as T;
}
