import OpenAI from "openai";
import { toAbortSignal } from "../call-signal.js";
import { NoSuchModelError } from "../errors/no-such-model-error.js";
import { createHttpFetch, type HttpFetch } from "../http/create-http-fetch.js";
import type { ProxySettings } from "../http/proxy-settings.js";
import type { LanguageModel, ModelInfo, Provider } from "../language-model.js";
import type { Logger } from "../logger.js";
import { createChatCompletionsTransport } from "./create-chat-completions-transport.js";
import { OPENAI_DEFAULT_BASE_URL, OPENAI_PROVIDER_ID } from "./openai-api.js";
import { createOpenAILanguageModel } from "./openai-language-model.js";

/** How to reach OpenAI or an OpenAI-compatible server; everything is passed in, nothing is read from the environment. */
export interface OpenAIProviderOptions {
  /** Sent as `authorization: Bearer`; servers that ignore it (Ollama, vLLM) still need a non-empty string. */
  apiKey: string;
  /** Includes `/v1`, e.g. `http://127.0.0.1:8000/v1` for vLLM; defaults to OpenAI's. */
  baseURL?: string;
  /** Model ids to list; `languageModel` accepts any id regardless. */
  models?: string[];
  /** Sends the requests; by default a keep-alive HTTP/1.1 fetch of the provider's own (createHttpFetch), closed by `close()`. */
  fetch?: typeof globalThis.fetch;
  /** The outbound proxy of the provider's own fetch (proxySettingsFromEnv); ignored with `fetch`. */
  proxy?: ProxySettings;
  /** Longest wait for the response headers (the whole answer when not streaming); the SDK's default is 10 minutes. */
  timeoutMs?: number;
  logger?: Logger;
}

/** The chat models listed when none are configured. */
export const OPENAI_DEFAULT_MODELS: readonly string[] = ["gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1"];

/**
 * OpenAI's Chat Completions (or any OpenAI-compatible server at `baseURL`) as the `openai` provider,
 * with the official SDK's wire semantics (its error classes and stream decoder) over a lean transport;
 * retries and fallback belong to NOA's router.
 */
export function createOpenAIProvider({
  apiKey,
  baseURL = OPENAI_DEFAULT_BASE_URL,
  models = [...OPENAI_DEFAULT_MODELS],
  fetch,
  proxy,
  timeoutMs,
  logger,
}: OpenAIProviderOptions): Provider {
  if (!apiKey) throw new Error("createOpenAIProvider needs a non-empty apiKey");
  // Node's global fetch (and node:http) cost several times the CPU of createHttpFetch per call; the SDK takes any fetch.
  const ownFetch = fetch ? undefined : createHttpFetch({ proxy });
  // The client holds the key, base URL and logger, and decodes streams; requests go through the transport.
  const client = new OpenAI({
    apiKey,
    baseURL,
    // Explicit nulls, or the SDK falls back to OPENAI_ORG_ID, OPENAI_PROJECT_ID… from process.env.
    organization: null,
    project: null,
    adminAPIKey: null,
    webhookSecret: null,
    fetch: fetch ?? ownFetch,
    ...(logger ? { logger: toSDKLogger(logger), logLevel: "warn" as const } : { logLevel: "off" as const }),
  });
  const languageModels = new Map<string, LanguageModel>();
  const transport = createChatCompletionsTransport({
    client,
    // NOA's own fetch takes a call's signal as it is; another gets a real AbortSignal.
    fetch: fetch
      ? (input, init) => fetch(input, { ...init, signal: toAbortSignal(init.signal ?? undefined) })
      : (ownFetch as HttpFetch),
    timeoutMs,
  });

  return {
    id: OPENAI_PROVIDER_ID,
    async listModels(): Promise<ModelInfo[]> {
      return models.map((id) => ({
        id: `${OPENAI_PROVIDER_ID}/${id}`,
        provider: OPENAI_PROVIDER_ID,
        capabilities: ["chat", "streaming"],
        contextLength: 0,
        loaded: true,
      }));
    },
    languageModel(modelId: string): LanguageModel {
      // Any id: OpenAI-compatible servers name their models freely, and the upstream answers 404 for unknown ones.
      if (!modelId) throw new NoSuchModelError(`${OPENAI_PROVIDER_ID}/`);
      // The router asks for the model on every call; a model holds no state, so one per id serves them all.
      let model = languageModels.get(modelId);
      if (!model) {
        model = createOpenAILanguageModel({ client, transport, modelId, logger });
        // Ids come from requests: keep a bounded few.
        if (languageModels.size >= 256) languageModels.clear();
        languageModels.set(modelId, model);
      }
      return model;
    },
    // The SDK holds no sockets of its own: a fetch passed in belongs to whoever passed it.
    close: async () => {
      ownFetch?.close();
    },
  };
}

/**
 * The SDK logs `(message, ...details)`; pino-style loggers take `(object, message)`. The details are
 * dropped: for a malformed stream they are the raw chunk, which holds answer text.
 */
function toSDKLogger(logger: Logger): NonNullable<ConstructorParameters<typeof OpenAI>[0]>["logger"] {
  const bind = (level: keyof Logger) => (message: string) =>
    logger[level]({ provider: OPENAI_PROVIDER_ID }, message);
  return { error: bind("error"), warn: bind("warn"), info: bind("info"), debug: bind("debug") };
}
