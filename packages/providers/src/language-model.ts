import type { Context } from "@opentelemetry/api";
import type { CallSignal } from "./call-signal.js";
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
  /**
   * Aborting stops the work upstream (HTTP request, local generation) within a token or two. An
   * AbortSignal, or NOA's cheaper CallController signal (toAbortSignal where an API needs a real one).
   */
  signal?: CallSignal;
  /** Told of every attempt the routing wrappers make (retries, fallbacks, skipped open breakers), for logs and the answer's metadata. */
  onAttempt?: (event: AttemptEvent) => void;
  /**
   * Told of the target each attempt calls as it starts (its AttemptEvent comes when it ends), so a call
   * stopped mid-attempt (the caller stopped reading) still knows which `<provider>/<model>` was serving it.
   */
  onAttemptStart?: (event: AttemptStart) => void;
  /** How this call uses the response cache (withCache, withCoalescing); models without one ignore it. */
  cache?: CacheOptions;
  /** Told how the cache wrappers handled the call: a hit (and its tier), a miss, a refresh or a bypass. */
  onCache?: (event: CacheEvent) => void;
  /** Told of each cache tier read and write made for this call, when it ends (for tracing). */
  onCacheTier?: (event: CacheTierEvent) => void;
  /** The caller's trace context (OpenTelemetry): tracing wrappers make this call's spans under it. */
  traceContext?: Context;
  /**
   * Told of the tokens counted so far as the provider learns them: the prompt as soon as it is known
   * (Anthropic's `message_start`, llama.cpp's tokenizer; OpenAI tells only at the end). A call cut or
   * cancelled before its `finish` is recorded with them.
   */
  onUsage?: (usage: Usage) => void;
}

/**
 * How a call uses the response cache. `default` reads and writes it when the answer is repeatable
 * (temperature 0 or a seed); `skip` neither reads nor writes; `refresh` does not read but stores the
 * fresh answer; `force` reads and writes even when sampling is not repeatable.
 */
export type CacheMode = "default" | "skip" | "refresh" | "force";

/** A call's cache instructions (the contract's CacheControl) and the partition its answers live in. */
export interface CacheOptions {
  mode?: CacheMode;
  /** How long a stored answer stays valid; unset means each tier's default; 0 stores nothing. */
  ttlSeconds?: number;
  /** Answers are shared only between calls of the same scope (e.g. `tenant:acme`); unset is the empty scope. */
  scope?: string;
}

/** Where a cached answer came from: a cache tier, or an identical call in flight at the same time. */
export type CacheSource = "memory" | "redis" | "database" | "coalesced";

/**
 * How the cache wrappers handled a call. A hit carries the `<provider>/<model>` that first produced the
 * answer; a call that joined an identical one in flight is told `coalesced` when it joins and again,
 * with the model, once the shared answer is complete (the last event wins).
 */
export type CacheEvent =
  | { status: "hit"; source: CacheSource; model?: string }
  | { status: "miss" | "refresh" | "bypass" };

/** One read (`get`: `hit` says whether it found the answer) or write (`set`) of one cache tier. */
export interface CacheTierEvent {
  tier: Exclude<CacheSource, "coalesced">;
  operation: "get" | "set";
  durationMs: number;
  hit?: boolean;
  /** Why the tier failed (it is then skipped for a while); undefined when it answered. */
  error?: unknown;
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

/** A target being called, as the routing wrappers start an attempt on it. */
export interface AttemptStart {
  /** `<provider>/<model>` of the target. */
  target: string;
  /** 1 for the first try of this target, 2 for its first retry, …. */
  attempt: number;
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
