import { availableParallelism } from "node:os";
import path from "node:path";
import { type RateLimitDefaults, rateLimitDefaultsFromEnv } from "@noa/access";
import { integer, type JobsConfig, parseJobsConfig } from "@noa/jobs";
import { type ConfigFile, type ProxySettings, proxySettingsFromEnv, readConfigFile } from "@noa/providers";

/** Worker configuration, read once from the environment by main.ts (README "Jobs"). */
export interface WorkerConfig {
  logLevel: string;
  prettyLogs: boolean;
  dataDir: string;
  databaseUrl: string | undefined;
  /** NOA_DATABASE_TIMEOUT_MS: a query (or a wait for a connection) that takes longer fails. */
  databaseTimeoutMs: number;
  redisUrl: string;
  jobs: JobsConfig;
  /** NOA_WORKER_CONCURRENCY: jobs run at once by this process. */
  concurrency: number;
  /** NOA_WORKER_RATE_LIMIT: jobs started per second (BullMQ: across the queue's workers); 0: none. */
  ratePerSecond: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  /** NOA_WORKER_MAX_STALLED_COUNT: how many dead workers a job survives before it is dead-lettered. */
  maxStalledCount: number;
  /** NOA_JOBS_SWEEP_INTERVAL_MS: how often stranded jobs (queued, retrying or active, lost by the queue) are looked for; 0: never. */
  sweepIntervalMs: number;
  shutdownGraceMs: number;
  /** NOA_WEBHOOK_SECRET; undefined: read (or create once) `<dataDir>/webhook-secret`. */
  webhookSecret: string | undefined;
  webhookTimeoutMs: number;
  /** NOA_WORKER_PORT: Bull Board and /health; undefined: no HTTP port. */
  dashboardPort: number | undefined;
  /** NOA_METRICS_TOKEN: when set, GET /metrics needs it as a Bearer token. */
  metricsToken: string | undefined;
  host: string;
  localModelPath: string | undefined;
  modelsDir: string;
  llamaThreads: number;
  maxLoadedModels: number;
  sequencesPerModel: number;
  keyCacheTtlMs: number;
  openai: { apiKey: string; baseURL: string | undefined } | undefined;
  anthropic: { apiKey: string; baseURL: string | undefined } | undefined;
  /** HTTPS_PROXY, HTTP_PROXY and NO_PROXY: the outbound proxy OpenAI and Anthropic are reached through. */
  proxy: ProxySettings;
  /** NOA_RATE_LIMIT_*, NOA_TOKENS_PER_MINUTE: as rpc-server reads them; inference jobs' tokens are charged with them. */
  rateLimitDefaults: RateLimitDefaults;
  configFile: ConfigFile;
}

/** Parses the environment; throws an Error naming the variable and what it accepts. */
export function parseWorkerConfig(env: NodeJS.ProcessEnv): WorkerConfig {
  const cwd = env.INIT_CWD ?? process.cwd();
  const dataDir = path.resolve(cwd, env.NOA_DATA_DIR ?? ".noa");
  const port = env.NOA_WORKER_PORT;
  const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
  const logLevel = env.LOG_LEVEL || "info";
  if (!logLevels.includes(logLevel)) throw new Error(`LOG_LEVEL must be one of ${logLevels.join(", ")}`);
  const secret = env.NOA_WEBHOOK_SECRET;
  if (secret === "") {
    // A deployment template left empty: a secret made per machine would sign callbacks differently per pod.
    throw new Error(
      "NOA_WEBHOOK_SECRET is set but empty: give it 32+ characters (openssl rand -hex 32), shared by every worker, or unset it on a single machine to have one created in NOA_DATA_DIR",
    );
  }
  if (secret !== undefined && secret.length < 32) {
    throw new Error("NOA_WEBHOOK_SECRET must hold at least 32 characters");
  }
  return {
    logLevel,
    prettyLogs: env.NODE_ENV === "development",
    dataDir,
    databaseUrl: env.DATABASE_URL || undefined,
    databaseTimeoutMs: integer(env, "NOA_DATABASE_TIMEOUT_MS", 10_000, 100, 3_600_000),
    redisUrl: env.REDIS_URL || "redis://127.0.0.1:6379",
    jobs: parseJobsConfig(env),
    concurrency: integer(env, "NOA_WORKER_CONCURRENCY", 5, 1, 10_000),
    ratePerSecond: integer(env, "NOA_WORKER_RATE_LIMIT", 10, 0, 1_000_000),
    lockDurationMs: integer(env, "NOA_WORKER_LOCK_MS", 30_000, 500, 3_600_000),
    stalledIntervalMs: integer(env, "NOA_WORKER_STALLED_INTERVAL_MS", 30_000, 100, 3_600_000),
    maxStalledCount: integer(env, "NOA_WORKER_MAX_STALLED_COUNT", 2, 0, 100),
    sweepIntervalMs: integer(env, "NOA_JOBS_SWEEP_INTERVAL_MS", 60_000, 0, 86_400_000),
    shutdownGraceMs: integer(env, "NOA_SHUTDOWN_GRACE_MS", 10_000, 0, 3_600_000),
    webhookSecret: secret,
    webhookTimeoutMs: integer(env, "NOA_WEBHOOK_TIMEOUT_MS", 10_000, 100, 300_000),
    metricsToken: env.NOA_METRICS_TOKEN || undefined,
    dashboardPort:
      port === "" || port === "off" ? undefined : integer(env, "NOA_WORKER_PORT", 8081, 0, 65_535),
    host: env.HOST ?? "127.0.0.1",
    localModelPath: env.NOA_LOCAL_MODEL_PATH ? path.resolve(cwd, env.NOA_LOCAL_MODEL_PATH) : undefined,
    modelsDir: path.resolve(cwd, env.NOA_MODELS_DIR ?? path.join(dataDir, "models")),
    llamaThreads: integer(env, "NOA_LLAMA_THREADS", availableParallelism(), 1, 1024),
    maxLoadedModels: integer(env, "NOA_MAX_LOADED_MODELS", 10, 1, 1000),
    sequencesPerModel: integer(env, "NOA_LLAMA_SEQUENCES", 4, 1, 256),
    keyCacheTtlMs: integer(env, "NOA_KEY_CACHE_TTL_MS", 30_000, 0, 3_600_000),
    openai: env.OPENAI_API_KEY
      ? { apiKey: env.OPENAI_API_KEY, baseURL: env.OPENAI_BASE_URL || undefined }
      : undefined,
    anthropic: env.ANTHROPIC_API_KEY
      ? { apiKey: env.ANTHROPIC_API_KEY, baseURL: env.ANTHROPIC_BASE_URL || undefined }
      : undefined,
    proxy: proxySettingsFromEnv(env),
    rateLimitDefaults: rateLimitDefaultsFromEnv(env),
    configFile: env.NOA_CONFIG ? readConfigFile(path.resolve(cwd, env.NOA_CONFIG)) : {},
  };
}
