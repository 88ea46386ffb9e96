export { InvalidRequestError } from "./errors/invalid-request-error.js";
export { NoSuchModelError } from "./errors/no-such-model-error.js";
export { ProviderError, type ProviderErrorOptions } from "./errors/provider-error.js";
export type {
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
export { createModelRegistry, type ModelRegistry } from "./model-registry.js";
