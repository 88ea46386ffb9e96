import Anthropic from "@anthropic-ai/sdk";
import { NoSuchModelError } from "../errors/no-such-model-error.js";
import { createHttpFetch } from "../http/create-http-fetch.js";
import type { ProxySettings } from "../http/proxy-settings.js";
import type { ModelInfo, Provider } from "../language-model.js";
import type { Logger } from "../logger.js";
import { ANTHROPIC_DEFAULT_BASE_URL, ANTHROPIC_PROVIDER_ID } from "./anthropic-api.js";
import { createAnthropicLanguageModel } from "./anthropic-language-model.js";

/** The models listed when the config names none: the current, not deprecated, ids in SDK 1.14's `Model` type. */
export const DEFAULT_ANTHROPIC_MODELS: readonly string[] = [
  "claude-opus-5-5",
  "claude-sonnet-5-5",
  "claude-haiku-5-5",
];

/** How to reach Anthropic; everything the SDK would otherwise read from the environment is passed in. */
export interface AnthropicProviderOptions {
  apiKey: string;
  /** Without `/v1`, as the SDK wants it; defaults to https://api.anthropic.com. */
  baseURL?: string;
  /** Model ids to list; `languageModel` accepts any id. Defaults to `DEFAULT_ANTHROPIC_MODELS`. */
  models?: readonly string[];
  /** `max_tokens` when a call sets none; defaults to `DEFAULT_ANTHROPIC_MAX_TOKENS`. */
  defaultMaxTokens?: number;
  /** Sends the requests; by default a keep-alive HTTP/1.1 fetch of the provider's own (createHttpFetch), closed by `close()`. */
  fetch?: typeof globalThis.fetch;
  /** The outbound proxy of the provider's own fetch (proxySettingsFromEnv); ignored with `fetch`. */
  proxy?: ProxySettings;
  /** Longest wait for the response headers (the SDK's `timeout`); the default is the SDK's 10 minutes. */
  timeoutMs?: number;
  /** Receives the SDK's own warnings and errors; without one the SDK logs nothing. */
  logger?: Logger;
}

/**
 * Serves Anthropic's models as `anthropic/<model id>` through `@anthropic-ai/sdk`, with the SDK's
 * retries off (`maxRetries: 0`): retrying and falling back are the router's, and a retry hidden in the
 * SDK would multiply them. Throws at once on a missing API key, so a misconfigured server fails at startup.
 */
export function createAnthropicProvider({
  apiKey,
  baseURL = ANTHROPIC_DEFAULT_BASE_URL,
  models = DEFAULT_ANTHROPIC_MODELS,
  defaultMaxTokens,
  fetch,
  proxy,
  timeoutMs,
  logger,
}: AnthropicProviderOptions): Provider {
  if (!apiKey) throw new Error("createAnthropicProvider needs an apiKey");
  // Node's global fetch costs several times the CPU of createHttpFetch per call; the SDK takes any fetch.
  const ownFetch = fetch ? undefined : createHttpFetch({ proxy });
  const client = new Anthropic({
    apiKey,
    baseURL,
    webhookKey: null,
    maxRetries: 0,
    ...(timeoutMs !== undefined && { timeout: timeoutMs }),
    fetch: fetch ?? ownFetch,
    ...(logger ? { logger: sdkLogger(logger), logLevel: "warn" } : { logLevel: "off" }),
  });

  return {
    id: ANTHROPIC_PROVIDER_ID,
    async listModels(): Promise<ModelInfo[]> {
      return models.map((modelId) => ({
        id: `${ANTHROPIC_PROVIDER_ID}/${modelId}`,
        provider: ANTHROPIC_PROVIDER_ID,
        capabilities: ["chat", "streaming"],
        contextLength: 0,
        loaded: true,
      }));
    },
    languageModel(modelId: string) {
      if (!modelId) throw new NoSuchModelError(`${ANTHROPIC_PROVIDER_ID}/`);
      return createAnthropicLanguageModel({ client, modelId, defaultMaxTokens });
    },
    // The SDK holds no sockets of its own: a fetch passed in belongs to whoever passed it.
    async close() {
      ownFetch?.close();
    },
  };
}

/**
 * The SDK logs `(message, ...details)`; ours takes the object first, pino style. The details are dropped:
 * they can hold request bodies or raw stream data, that is prompt and answer text.
 */
function sdkLogger(logger: Logger): NonNullable<ConstructorParameters<typeof Anthropic>[0]>["logger"] {
  const forward = (level: keyof Logger) => (message: string) =>
    logger[level]({ provider: ANTHROPIC_PROVIDER_ID }, message);
  return { error: forward("error"), warn: forward("warn"), info: forward("info"), debug: forward("debug") };
}
