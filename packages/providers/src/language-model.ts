import type { CircuitSnapshot } from "./routing/circuit-breaker.js";

/** Who wrote a chat message. */
export type ChatRole = "system" | "user" | "assistant";

/** One turn of a conversation. */
export interface ChatMessage {
  role: ChatRole;
  content: string;
}

/** What a caller asks of a model; every provider honours the same options. */
export interface CallOptions {
  /** The conversation, oldest first; never empty (callers validate). */
  messages: ChatMessage[];
  /** Most tokens to generate; undefined means the provider's default. */
  maxTokens?: number;
  /** Sampling temperature; 0 is greedy. */
  temperature?: number;
  topP?: number;
  /** Sequences that end generation; they are not part of the returned text. */
  stop?: string[];
  seed?: number;
  /** Aborting stops the work upstream (HTTP request, local generation) within a token or two. */
  signal?: AbortSignal;
  /** Told of every attempt the routing wrappers make (retries, fallbacks, skipped open breakers), for logs and the answer's metadata. */
  onAttempt?: (event: AttemptEvent) => void;
}

/** One try of one target, as reported by the routing wrappers. */
export interface AttemptEvent {
  /** `<provider>/<model>` of the target. */
  target: string;
  /** 1 for the first try of this target, 2 for its first retry, …; 0 when its breaker skipped it. */
  attempt: number;
  outcome: "ok" | "error" | "cancelled" | "circuit-open";
  /** The failure, for `error` and `circuit-open`. */
  error?: Error;
  durationMs: number;
}

/** Why generation ended; `cancelled` means the signal aborted it and the text is partial. */
export type FinishReason = "stop" | "length" | "content-filter" | "cancelled";

/** Tokens consumed by one call. */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

/** A whole answer. */
export interface GenerateResult {
  text: string;
  finishReason: FinishReason;
  usage: Usage;
}

/** One part of a streamed answer, told apart by `type`; `finish` is always last. */
export type StreamPart =
  | { type: "text-delta"; text: string }
  | { type: "finish"; finishReason: FinishReason; usage: Usage };

/**
 * A model that generates text. Implementations and the wrappers around them (retry, breaker,
 * fallback, cache) all keep this shape, after vercel/ai's LanguageModelV2.
 *
 * An aborted signal is not an error: `generate` resolves and `stream` ends with a `finish` part
 * whose reason is `cancelled`, carrying the usage up to that point. Failures throw a ProviderError.
 */
export interface LanguageModel {
  /** Provider id, e.g. `llama-cpp`. */
  readonly provider: string;
  /** Model id within the provider, e.g. `llama-2-tiny-random`. */
  readonly modelId: string;
  generate(options: CallOptions): Promise<GenerateResult>;
  stream(options: CallOptions): AsyncIterable<StreamPart>;
}

/** What a model can do. */
export type ModelCapability = "chat" | "completion" | "streaming" | "embeddings";

/** A model as listed to clients. */
export interface ModelInfo {
  /** `<provider>/<model>`. */
  id: string;
  provider: string;
  capabilities: ModelCapability[];
  /** Largest context in tokens; 0 when unknown. */
  contextLength: number;
  /** Whether it is in memory now; remote models are always loaded. */
  loaded: boolean;
  /** For a route alias: its targets, in fallback order. */
  targets?: string[];
  /** For a routed target: its circuit breaker, once it has one. */
  circuit?: CircuitSnapshot;
}

/** A vendor (or local runtime) that serves models; built from config by the app's composition root. */
export interface Provider {
  readonly id: string;
  listModels(): Promise<ModelInfo[]>;
  /** The model by its id within this provider; throws NoSuchModelError when it has none. */
  languageModel(modelId: string): LanguageModel;
  /** Frees what the provider holds (loaded models, sockets). */
  close(): Promise<void>;
}
