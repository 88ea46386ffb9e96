import {
  createAuthenticator,
  createPriceTable,
  createRedisRateLimiter,
  createUsageLedger,
  parsePricingConfig,
  rateLimitKeyPrefix,
} from "@noa/access";
import {
  createDatabase,
  createPgJobStore,
  createPrismaApiKeyStore,
  createPrismaUsageExportSource,
  createPrismaUsageStore,
  migrateDatabase,
} from "@noa/db";
import {
  createJobEvents,
  createJobProcessor,
  createJobQueues,
  createJobWorkers,
  createRedisOutageLog,
  createWebhookProcessor,
  redisAddressOf,
  startStrandedJobSweeper,
} from "@noa/jobs";
import {
  createLogger,
  createReadiness,
  instrumentModelRegistry,
  secretsFromEnv,
  startShutdownDeadline,
  startTracing,
} from "@noa/observability";
import { createGatewayRegistry, createRedisBreakerEvents } from "@noa/providers";
import { Redis } from "ioredis";
import { parseWorkerConfig } from "./config.js";
import { createWorkerMetrics } from "./create-worker-metrics.js";
import { readWebhookSecret } from "./read-webhook-secret.js";
import { startDashboard } from "./start-dashboard.js";

/**
 * Composition root of the worker: config, logger, database, Redis, the same providers as rpc-server, the
 * job and webhook workers, the queue dashboard; SIGTERM/SIGINT let running jobs finish for the grace
 * period, release the rest to the queue, then close in order.
 */
async function main(): Promise<void> {
  const config = parseWorkerConfig(process.env);
  const logger = createLogger({
    service: "worker",
    level: config.logLevel,
    pretty: config.prettyLogs,
    secrets: secretsFromEnv(process.env),
  });
  // Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or …_TRACES_ENDPOINT) is set.
  const tracing = startTracing({ service: "worker" });

  if (!config.databaseUrl) {
    // The embedded PGlite serves one process, and rpc-server owns it: jobs need a shared PostgreSQL.
    throw new Error(
      "the worker shares its database with rpc-server: set DATABASE_URL to PostgreSQL (the embedded PGlite serves one process only)",
    );
  }
  const database = await createDatabase({
    url: config.databaseUrl,
    timeoutMs: config.databaseTimeoutMs,
    logger,
  });
  await migrateDatabase(database, { logger });
  const store = createPgJobStore(database.pool);
  const ledger = createUsageLedger({ store: createPrismaUsageStore(database.prisma), logger });
  const prices = createPriceTable({ prices: parsePricingConfig(config.configFile.pricing ?? {}) });
  const webhook = config.webhookSecret
    ? { secret: config.webhookSecret }
    : await readWebhookSecret(config.dataDir).then(({ secret, file, created }) => {
        logger.warn(
          { file, created },
          "NOA_WEBHOOK_SECRET is unset: webhooks are signed with the secret in this file",
        );
        return { secret };
      });

  // BullMQ workers block on Redis: they need retries without limit and their own connections.
  const connection = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  const subscriber = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  // Every connection (these, the workers' own) reports here: an outage is one line when it starts, a
  // reminder a minute, one line when Redis is back; not a line per reconnection attempt of each.
  const redisOutage = createRedisOutageLog({ logger, address: redisAddressOf(connection.options) });
  redisOutage.watch(connection, "queue");
  redisOutage.watch(subscriber, "job events");
  const { prefix } = config.jobs;
  const queues = createJobQueues({ connection, prefix, webhookRetry: config.jobs.webhookRetry, logger });
  const events = createJobEvents({ publisher: connection, subscriber, prefix });
  const metrics = createWorkerMetrics({ queues, tracing });

  // Breaker openings are shared with rpc-server and the other workers over Redis pub/sub.
  const breakerSubscriber = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  redisOutage.watch(breakerSubscriber, "breaker events");
  const breakerEvents = createRedisBreakerEvents({
    publisher: connection,
    subscriber: breakerSubscriber,
    channel: `${prefix}:breaker-events`,
  });
  const gateway = createGatewayRegistry({
    ...config,
    routing: config.configFile.routing,
    logger,
    breakerEvents,
  });
  // Each provider attempt is a span under the job's attempt (the trace of the request that queued it).
  const registry = instrumentModelRegistry(gateway.registry);
  const models = await registry.listModels();
  const workers = createJobWorkers({
    connection,
    prefix,
    events,
    logger,
    redisOutage,
    processJob: createJobProcessor({
      store,
      queues,
      events,
      logger,
      registry,
      // Inference jobs' tokens go to the submitting key's budget, in the Redis rpc-server admits calls with.
      accounting: {
        ledger,
        prices,
        rateLimiter: createRedisRateLimiter({
          redis: connection,
          defaults: config.rateLimitDefaults,
          prefix: rateLimitKeyPrefix(prefix),
        }),
        logger,
      },
      usageSource: createPrismaUsageExportSource(database.prisma),
      notifications: {
        webhook: {
          secret: webhook.secret,
          policy: config.jobs.callbackPolicy,
          timeoutMs: config.webhookTimeoutMs,
        },
      },
      backoff: config.jobs.backoff,
      observer: metrics.observer,
    }),
    deliverWebhook: createWebhookProcessor({
      observer: metrics.observer,
      store,
      events,
      logger,
      secret: webhook.secret,
      policy: config.jobs.callbackPolicy,
      timeoutMs: config.webhookTimeoutMs,
    }),
    options: {
      concurrency: config.concurrency,
      ratePerSecond: config.ratePerSecond,
      lockDurationMs: config.lockDurationMs,
      stalledIntervalMs: config.stalledIntervalMs,
      maxStalledCount: config.maxStalledCount,
      webhookConcurrency: Math.max(5, config.concurrency),
      backoff: config.jobs.backoff,
    },
  });

  let stopping = false;
  const dashboard =
    config.dashboardPort === undefined
      ? undefined
      : await startDashboard({
          queues,
          authenticator: createAuthenticator({
            store: createPrismaApiKeyStore(database.prisma),
            cacheTtlMs: config.keyCacheTtlMs,
            logger,
          }),
          logger,
          isReady: () => !stopping,
          readiness: createReadiness({
            checks: {
              database: async () => {
                await database.pool.query("SELECT 1");
              },
              redis: async () => {
                await connection.ping();
              },
            },
          }),
          metrics: metrics.registry,
          metricsToken: config.metricsToken,
          port: config.dashboardPort,
          host: config.host,
        });
  await workers.jobs.waitUntilReady();
  // Jobs PostgreSQL holds as queued, retrying or active that the queue lost go back on it (a job a
  // minute past its time and still not on the queue was lost, not slow to arrive).
  const sweeper =
    config.sweepIntervalMs > 0
      ? startStrandedJobSweeper({
          store,
          queues,
          events,
          logger,
          intervalMs: config.sweepIntervalMs,
          graceMs: 60_000,
        })
      : undefined;
  logger.info(
    {
      prefix,
      concurrency: config.concurrency,
      ratePerSecond: config.ratePerSecond,
      models: models.map((model) => model.id),
      database: database.kind,
      ...(dashboard
        ? { dashboard: `http://${dashboard.address.address}:${dashboard.address.port}/admin/queues` }
        : {}),
    },
    "worker started",
  );

  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, graceMs: config.shutdownGraceMs }, "shutting down: finishing running jobs");
    // With Redis unreachable the job workers close without waiting for it once the grace period is over
    // (createJobWorkers), and the process ends with 0 as on any shutdown. Whatever still waits (Redis lost
    // while the workers were closing, a span export) is cut short past the grace period, the longest webhook
    // delivery still running and a margin: exit 1; jobs it held are released by BullMQ's stalled-job check.
    const deadlineMs = config.shutdownGraceMs + config.webhookTimeoutMs + shutdownMarginMs;
    const finished = startShutdownDeadline(logger, deadlineMs);
    sweeper?.stop();
    await workers.close({ graceMs: config.shutdownGraceMs });
    await dashboard?.close();
    await events.close();
    await queues.close();
    await ledger.close();
    await registry.close();
    await breakerEvents.close();
    breakerSubscriber.disconnect();
    connection.disconnect();
    subscriber.disconnect();
    await database.close();
    await tracing.shutdown().catch(() => {});
    finished();
    logger.info("stopped");
    logger.flush();
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
}

/** How long closing may take past the grace period before the process ends anyway. */
const shutdownMarginMs = 5_000;

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  // What start-up opened (Redis, the database pool, timers) would keep the process alive.
  process.exit(1);
});
