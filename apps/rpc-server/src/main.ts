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
} from "@noa/access";
import { createDatabase, createPrismaApiKeyStore, createPrismaUsageStore, migrateDatabase } from "@noa/db";
import { createLogger } from "@noa/observability";
import {
  createAnthropicProvider,
  createLlamaCppProvider,
  createModelRegistry,
  createOpenAIProvider,
  createRouter,
  type Provider,
  parseRoutingConfig,
} from "@noa/providers";
import { Redis } from "ioredis";
import { parseConfig } from "./config.js";
import { createMetrics } from "./create-metrics.js";
import { createReadiness } from "./create-readiness.js";
import { build } from "./server.js";

/** Composition root: config, logger, database, Redis, access, providers, server; SIGTERM/SIGINT close them in order. */
async function main(): Promise<void> {
  const config = parseConfig(process.env);
  const configFile = (config.configFile ?? {}) as { routing?: unknown; pricing?: unknown };
  const logger = createLogger({ service: "rpc-server", level: config.logLevel, pretty: config.prettyLogs });

  const database = await createDatabase({ url: config.databaseUrl, dataDir: config.dataDir, logger });
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
  const rateLimiter = createFailoverRateLimiter({
    primary: createRedisRateLimiter({ redis, defaults: config.rateLimitDefaults }),
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

  const llamaCpp = createLlamaCppProvider({
    modelPaths: config.localModelPath ? [config.localModelPath] : [],
    modelsDir: config.modelsDir,
    threads: config.llamaThreads,
    maxLoadedModels: config.maxLoadedModels,
    sequencesPerModel: config.sequencesPerModel,
    logger,
  });
  const providers: Provider[] = [llamaCpp];
  if (config.openai) providers.push(createOpenAIProvider({ ...config.openai, logger }));
  if (config.anthropic) providers.push(createAnthropicProvider({ ...config.anthropic, logger }));
  const routing = parseRoutingConfig(configFile.routing);
  const registry = createRouter({ registry: createModelRegistry({ providers }), config: routing, logger });
  for (const [alias, route] of Object.entries(routing.routes)) {
    // Fails at start, naming the target, rather than on the first request.
    for (const target of route.targets) registry.languageModel(target);
    logger.info({ alias, targets: route.targets }, "route");
  }
  const models = await registry.listModels();
  if (models.length === 0) {
    logger.warn(
      { modelsDir: config.modelsDir },
      "no models: set NOA_LOCAL_MODEL_PATH to a GGUF file or put *.gguf files in NOA_MODELS_DIR",
    );
  }

  const metrics = createMetrics({ registry });
  metrics.observe({ usageBuffered: () => ledger.stats().buffered });
  const server = build({
    registry,
    logger,
    metrics,
    readiness: createReadiness({
      pingDatabase: async () => {
        await database.prisma.$queryRaw`SELECT 1`;
      },
      rateLimiter,
      ledger,
    }),
    access: { authenticator, apiKeys, usage: usageStore, accounting: { rateLimiter, ledger, prices } },
    http: {
      corsOrigins: config.corsOrigins,
      maxBodyBytes: config.maxBodyBytes,
      requestTimeoutMs: config.requestTimeoutMs,
    },
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
    await server.close({ graceMs: config.shutdownGraceMs });
    await ledger.close();
    await registry.close();
    redis.disconnect();
    await database.close();
    logger.info("stopped");
    logger.flush();
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
