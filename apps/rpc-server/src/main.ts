import {
  createAnthropicProvider,
  createLlamaCppProvider,
  createModelRegistry,
  createOpenAIProvider,
  createRouter,
  type Provider,
  parseRoutingConfig,
} from "@noa/providers";
import { pino } from "pino";
import { parseConfig } from "./config.js";
import { createMetrics } from "./create-metrics.js";
import { build } from "./server.js";

/** Composition root: config, logger, providers, server; SIGTERM/SIGINT close them in order. */
async function main(): Promise<void> {
  const config = parseConfig(process.env);
  const logger = pino({
    level: config.logLevel,
    base: { service: "rpc-server", env: process.env.NODE_ENV ?? "production" },
    ...(config.prettyLogs ? { transport: { target: "pino-pretty" } } : {}),
  });
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
  const routing = parseRoutingConfig((config.configFile as { routing?: unknown } | undefined)?.routing);
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
  const server = build({ registry, logger, metrics: createMetrics({ registry }) });
  const address = await server.listen(config.port, config.host);
  logger.info(
    { address: `${address.address}:${address.port}`, models: models.map((m) => m.id) },
    "rpc-server listening",
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, graceMs: config.shutdownGraceMs }, "shutting down");
    await server.close({ graceMs: config.shutdownGraceMs });
    await registry.close();
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
