export {
  type AnthropicLanguageModelOptions,
  createAnthropicLanguageModel,
  DEFAULT_ANTHROPIC_MAX_TOKENS,
} from "./anthropic/anthropic-language-model.js";
export {
  type AnthropicProviderOptions,
  createAnthropicProvider,
  DEFAULT_ANTHROPIC_MODELS,
} from "./anthropic/anthropic-provider.js";
export { mapAnthropicError } from "./anthropic/map-anthropic-error.js";
export {
  type CacheIdentity,
  cacheKey,
  canonicalRequest,
  isRepeatable,
} from "./cache/cache-key.js";
export {
  type CachedAnswer,
  type CacheTier,
  type CacheTierName,
  type CacheWrite,
  parseCachedAnswer,
} from "./cache/cache-tier.js";
export {
  createMemoryCacheTier,
  type MemoryCacheTier,
  type MemoryCacheTierOptions,
} from "./cache/memory-cache-tier.js";
export { createRedisCacheTier, type RedisCacheTierOptions } from "./cache/redis-cache-tier.js";
export {
  type CacheHit,
  type CachePlan,
  createResponseCache,
  type ResponseCache,
  type ResponseCacheOptions,
} from "./cache/response-cache.js";
export { type WithCacheOptions, withCache } from "./cache/with-cache.js";
export {
  createInFlightTable,
  type InFlightTable,
  type WithCoalescingOptions,
  withCoalescing,
} from "./cache/with-coalescing.js";
export { type AbortListener, CallController, type CallSignal, toAbortSignal } from "./call-signal.js";
export { collectStream } from "./collect-stream.js";
export { createGatewayRegistry, type GatewayRegistryOptions } from "./create-gateway-registry.js";
export { CircuitOpenError } from "./errors/circuit-open-error.js";
export { ContextLengthExceededError } from "./errors/context-length-exceeded-error.js";
export { InvalidRequestError } from "./errors/invalid-request-error.js";
export { isRetryableStatus } from "./errors/is-retryable-status.js";
export { NoSuchModelError } from "./errors/no-such-model-error.js";
export { NoTargetAvailableError } from "./errors/no-target-available-error.js";
export { parseRetryAfter } from "./errors/parse-retry-after.js";
export { ProviderError, type ProviderErrorOptions } from "./errors/provider-error.js";
export { StreamInterruptedError } from "./errors/stream-interrupted-error.js";
export { TimeoutError } from "./errors/timeout-error.js";
export { type ProxySettings, proxySettingsFromEnv } from "./http/proxy-settings.js";
export type {
  AttemptEvent,
  AttemptStart,
  CacheEvent,
  CacheMode,
  CacheOptions,
  CacheSource,
  CacheTierEvent,
  CallOptions,
  ChatMessage,
  ChatRole,
  FinishReason,
  GenerateResult,
  LanguageModel,
  ModelCapability,
  ModelInfo,
  Provider,
  StreamPart,
  Usage,
} from "./language-model.js";
export {
  type FindGgufModelsOptions,
  findGgufModels,
  type GgufModelFile,
} from "./llama-cpp/find-gguf-models.js";
export {
  createLlamaCppModelManager,
  type GenerationOutcome,
  type GenerationRecord,
  type LlamaCppModelManager,
  type LlamaCppModelManagerOptions,
  type LlamaCppModelStats,
  type SequenceSlot,
} from "./llama-cpp/llama-cpp-model-manager.js";
export {
  createLlamaCppProvider,
  type LlamaCppProvider,
  type LlamaCppProviderOptions,
} from "./llama-cpp/llama-cpp-provider.js";
export type { Logger } from "./logger.js";
export { createModelRegistry, type ModelRegistry } from "./model-registry.js";
export { mapOpenAIError } from "./openai/map-openai-error.js";
export {
  createOpenAILanguageModel,
  type OpenAILanguageModelOptions,
} from "./openai/openai-language-model.js";
export {
  createOpenAIProvider,
  OPENAI_DEFAULT_MODELS,
  type OpenAIProviderOptions,
} from "./openai/openai-provider.js";
export { type ConfigFile, readConfigFile } from "./read-config-file.js";
export {
  type CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitSnapshot,
  type CircuitState,
  createCircuitBreaker,
} from "./routing/circuit-breaker.js";
export { createRedisBreakerEvents } from "./routing/create-redis-breaker-events.js";
export {
  type BreakerEvents,
  type BreakerOpened,
  createRouter,
  type RouterOptions,
} from "./routing/create-router.js";
export { parseRoutingConfig, type Route, type RoutingConfig } from "./routing/routing-config.js";
export { withCircuitBreaker } from "./routing/with-circuit-breaker.js";
export { withFallback } from "./routing/with-fallback.js";
export {
  defaultRetryPolicy,
  type RetryDeps,
  type RetryPolicy,
  retryDelay,
  withRetry,
} from "./routing/with-retry.js";
export { type TimeoutPolicy, withTimeout } from "./routing/with-timeout.js";
export { usageOfCutCall } from "./usage-of-cut-call.js";
