import {
  createApiKeyService,
  createAuthenticator,
  createFailoverRateLimiter,
  createJwtVerifier,
  createLocalRateLimiter,
  createPriceTable,
  createRedisRateLimiter,
  createUsageLedger,
  parsePricingConfig,
  rateLimitKeyPrefix,
} from "@noa/access";
import { createDatabase, createPrismaApiKeyStore, createPrismaUsageStore, migrateDatabase } from "@noa/db";
import { parseJobsConfig } from "@noa/jobs";
import {
  createLogger,
  createReadiness,
  DependencyDown,
  secretsFromEnv,
  startShutdownDeadline,
  startTracing,
} from "@noa/observability";
import { createGatewayRegistry, createRedisBreakerEvents } from "@noa/providers";
import { Redis } from "ioredis";
import packageJson from "../package.json" with { type: "json" };
import { parseConfig } from "./config.js";
import { createCompletionCache } from "./create-completion-cache.js";
import { createJobBackend } from "./create-job-backend.js";
import { createMetrics } from "./create-metrics.js";
import { build } from "./server.js";

/** Composition root: config, logger, database, Redis, access, providers, server; SIGTERM/SIGINT close them in order. */
async function main(): Promise<void> {
  const config = parseConfig(process.env);
  const { configFile } = config;
  const logger = createLogger({
    service: "rpc-server",
    level: config.logLevel,
    pretty: config.prettyLogs,
    secrets: secretsFromEnv(process.env),
  });
  // Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or …_TRACES_ENDPOINT) is set.
  const tracing = startTracing({ service: "rpc-server" });

  const database = await createDatabase({
    url: config.databaseUrl,
    dataDir: config.dataDir,
    timeoutMs: config.databaseTimeoutMs,
    logger,
  });
  await migrateDatabase(database, { logger });
  const keyStore = createPrismaApiKeyStore(database.prisma);
  const usageStore = createPrismaUsageStore(database.prisma);
  const apiKeys = createApiKeyService({ store: keyStore, logger });
  const bootstrap = await apiKeys.bootstrapAdmin({ masterKey: config.masterKey });
  if (bootstrap) {
    // Shown once, on the terminal only: the database keeps its hash, the logger never sees it.
    process.stderr.write(
      `\nNOA created an admin API key (shown only now; set NOA_MASTER_KEY to choose your own):\n\n  ${bootstrap.key}\n\n`,
    );
  }

  // Redis is optional: without it rate limits are per replica (readiness will say so).
  const redis = new Redis(config.redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
  });
  redis.on("error", () => {});
  await redis.connect().catch((error: unknown) => {
    logger.warn(
      { err: error },
      "Redis is unreachable: rate limits are enforced per replica until it is back",
    );
  });
  // NOA_JOBS_PREFIX starts every Redis key and channel of this deployment: queues, cache, limits, breakers.
  const jobsConfig = parseJobsConfig(process.env);
  const { prefix } = jobsConfig;
  const rateLimiter = createFailoverRateLimiter({
    primary: createRedisRateLimiter({
      redis,
      defaults: config.rateLimitDefaults,
      prefix: rateLimitKeyPrefix(prefix),
    }),
    fallback: createLocalRateLimiter({ defaults: config.rateLimitDefaults }),
    isHealthy: () => redis.status === "ready",
    logger,
  });
  const authenticator = createAuthenticator({
    store: keyStore,
    jwt: config.jwt && createJwtVerifier(config.jwt),
    cacheTtlMs: config.keyCacheTtlMs,
    logger,
  });
  const ledger = createUsageLedger({ store: usageStore, logger });
  const prices = createPriceTable({ prices: parsePricingConfig(configFile.pricing ?? {}) });
  // JobService and /v1/jobs: jobs in the database, queued in BullMQ for apps/worker (README "Jobs").
  const jobs = await createJobBackend({
    redisUrl: config.redisUrl,
    database,
    config: jobsConfig,
    logger,
  });

  // Breaker openings go to every replica over Redis pub/sub; the subscriber needs a connection of its
  // own, which waits for Redis (offline queue on) and resubscribes after an outage.
  const breakerSubscriber = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  breakerSubscriber.on("error", () => {});
  const breakerEvents = createRedisBreakerEvents({
    publisher: redis,
    subscriber: breakerSubscriber,
    channel: `${prefix}:breaker-events`,
  });
  // The same providers and router as the worker's (apps/worker), so a job runs where a call would.
  const { registry, providers, routing } = createGatewayRegistry({
    ...config,
    routing: configFile.routing,
    logger,
    breakerEvents,
  });
  const models = await registry.listModels();
  if (models.length === 0) {
    logger.warn(
      { modelsDir: config.modelsDir },
      "no models: set NOA_LOCAL_MODEL_PATH to a GGUF file or put *.gguf files in NOA_MODELS_DIR",
    );
  }

  const cache = createCompletionCache({
    config: config.cache,
    redis,
    prisma: database.prisma,
    targetsOf: (model) => routing.routes[model]?.targets ?? [model],
    logger,
    redisPrefix: `${prefix}:cache:`,
  });

  const metrics = createMetrics({ registry, tracing });
  metrics.observe({ usageBuffered: () => ledger.stats().buffered });
  const server = build({
    registry,
    logger,
    metrics,
    readiness: createReadiness({
      checks: {
        database: async () => {
          await database.prisma.$queryRaw`SELECT 1`;
        },
        redis: async () => {
          await redis.ping();
        },
        models: async () => {
          const usable = (await registry.listModels()).filter((model) => model.circuit?.state !== "open");
          if (usable.length === 0)
            throw new DependencyDown("no model is configured or every breaker is open");
        },
      },
      usageBuffered: () => ledger.stats().buffered,
    }),
    metricsToken: config.metricsToken,
    logContent: config.logContent,
    status: {
      service: "rpc-server",
      version: packageJson.version,
      database: database.kind,
      providers: providers.map((provider) => provider.id),
      routes: Object.keys(routing.routes),
      protocols: ["grpc", "grpc-web", "connect", "openai-rest"],
    },
    access: { authenticator, apiKeys, usage: usageStore, accounting: { rateLimiter, ledger, prices } },
    http: {
      corsOrigins: config.corsOrigins,
      maxBodyBytes: config.maxBodyBytes,
      requestTimeoutMs: config.requestTimeoutMs,
    },
    cache: cache.deps,
    jobs: jobs.service,
  });
  const address = await server.listen(config.port, config.host);
  logger.info(
    {
      address: `${address.address}:${address.port}`,
      database: database.kind,
      models: models.map((m) => m.id),
    },
    "rpc-server listening",
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, graceMs: config.shutdownGraceMs }, "shutting down");
    // Nothing here waits for Redis, reachable or not; whatever still waits (a span export, a close that
    // started just before Redis went away) is cut short soon after the grace period, saying why (exit 1).
    const deadlineMs = config.shutdownGraceMs + shutdownMarginMs;
    const finished = startShutdownDeadline(logger, deadlineMs);
    await server.close({ graceMs: config.shutdownGraceMs });
    // The usage ledger first: its records go to PostgreSQL, whatever Redis is doing.
    await ledger.close();
    await jobs.close();
    await cache.close();
    await registry.close();
    await breakerEvents.close();
    breakerSubscriber.disconnect();
    redis.disconnect();
    await database.close();
    await tracing.shutdown().catch(() => {});
    finished();
    logger.info("stopped");
    logger.flush();
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
}

/** What closing may take beyond the grace period before the process gives up and exits. */
const shutdownMarginMs = 5_000;

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  // What start-up opened (Redis, the database pool, timers) would keep the process alive.
  process.exit(1);
});
