import { createAnthropicProvider } from "./anthropic/anthropic-provider.js";
import { type ProxySettings, parseProxyUrl } from "./http/proxy-settings.js";
import type { Provider } from "./language-model.js";
import { createLlamaCppProvider, type LlamaCppProvider } from "./llama-cpp/llama-cpp-provider.js";
import type { Logger } from "./logger.js";
import type { ModelRegistry } from "./model-registry.js";
import { createModelRegistry } from "./model-registry.js";
import { createOpenAIProvider } from "./openai/openai-provider.js";
import { type BreakerEvents, createRouter } from "./routing/create-router.js";
import { parseRoutingConfig, type RoutingConfig } from "./routing/routing-config.js";

/** The providers an app serves, as its config names them. */
export interface GatewayRegistryOptions {
  localModelPath: string | undefined;
  modelsDir: string;
  llamaThreads: number;
  maxLoadedModels: number;
  sequencesPerModel: number;
  openai: { apiKey: string; baseURL: string | undefined } | undefined;
  anthropic: { apiKey: string; baseURL: string | undefined } | undefined;
  /** The proxy OpenAI and Anthropic are reached through (HTTPS_PROXY, HTTP_PROXY, NO_PROXY). */
  proxy?: ProxySettings;
  /** The `routing` part of NOA_CONFIG. */
  routing: unknown;
  /** Shares breaker openings with the other replicas (createRedisBreakerEvents). */
  breakerEvents?: BreakerEvents;
  logger: Logger;
}

/**
 * The gateway's model registry as every app builds it: llama.cpp always, OpenAI and Anthropic when
 * configured, behind the router with the routing table (whose targets are checked here, at start).
 * rpc-server and the worker share it, so a job runs on exactly the providers a synchronous call would.
 */
export function createGatewayRegistry(options: GatewayRegistryOptions): {
  registry: ModelRegistry;
  llamaCpp: LlamaCppProvider;
  /** The providers behind the router, llama.cpp first. */
  providers: Provider[];
  routing: RoutingConfig;
} {
  const { logger } = options;
  const llamaCpp = createLlamaCppProvider({
    modelPaths: options.localModelPath ? [options.localModelPath] : [],
    modelsDir: options.modelsDir,
    threads: options.llamaThreads,
    maxLoadedModels: options.maxLoadedModels,
    sequencesPerModel: options.sequencesPerModel,
    logger,
  });
  const providers: Provider[] = [llamaCpp];
  const { proxy } = options;
  if (proxy?.httpsProxy || proxy?.httpProxy) {
    // Where the proxies are, never their credentials.
    const label = (url: string | undefined, name: string) => url && parseProxyUrl(url, name).label;
    logger.info(
      {
        httpsProxy: label(proxy.httpsProxy, "HTTPS_PROXY"),
        httpProxy: label(proxy.httpProxy, "HTTP_PROXY"),
        noProxy: proxy.noProxy,
      },
      "outbound proxy",
    );
  }
  if (options.openai) providers.push(createOpenAIProvider({ ...options.openai, proxy, logger }));
  if (options.anthropic) providers.push(createAnthropicProvider({ ...options.anthropic, proxy, logger }));
  const routing = parseRoutingConfig(options.routing);
  const registry = createRouter({
    registry: createModelRegistry({ providers }),
    config: routing,
    logger,
    breakerEvents: options.breakerEvents,
  });
  for (const [alias, route] of Object.entries(routing.routes)) {
    // Fails at start, naming the target, rather than on the first request.
    for (const target of route.targets) registry.languageModel(target);
    logger.info({ alias, targets: route.targets }, "route");
  }
  return { registry, llamaCpp, providers, routing };
}
