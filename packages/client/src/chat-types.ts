/** Who wrote a chat message. */
export type ChatRole = "system" | "user" | "assistant";

/** One turn of a conversation. */
export interface ChatMessage {
  role: ChatRole;
  content: string;
}

/** Why an answer ended: the model stopped, the token limit was reached, content was withheld, or the client cancelled. */
export type ChatFinishReason = "stop" | "length" | "content-filter" | "cancelled" | "unknown";

/** Tokens an answer consumed. */
export interface ChatUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

/** What to ask: a model and a conversation (a string is one user message), with optional sampling settings. */
export interface ChatRequest {
  /** A model id (`llama-cpp/llama-2-tiny-random`) or a route alias (`default`). */
  model: string;
  messages: ChatMessage[] | string;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  stop?: string[];
  seed?: number;
}

/** What a finished answer says about itself: why it ended, its usage and cost, and who served it. */
export interface ChatSummary {
  /** The server's id for the completion (its correlation id). */
  id: string;
  finishReason: ChatFinishReason;
  usage: ChatUsage;
  costUsd: number;
  /** The provider and model that actually served (an alias resolves to one of its targets). */
  provider: string;
  model: string;
  /** Provider calls made, retries and fallbacks included. */
  attempts: number;
  cached: boolean;
  /** `memory`, `redis` or `database` when cached; empty otherwise. */
  cacheTier: string;
}

/** A whole answer. */
export interface ChatResult extends ChatSummary {
  text: string;
}

/** One part of a streamed answer: text as it is generated, then one `finish` part. */
export type ChatPart = { type: "text-delta"; id: string; text: string } | ({ type: "finish" } & ChatSummary);

/** Per-call options of the chat helpers. */
export interface ChatCallOptions {
  /** Aborting it cancels the call; the server stops generating. */
  signal?: AbortSignal;
  /** A deadline for this call, overriding the client's default. */
  timeoutMs?: number;
  /** Extra request headers, e.g. `x-correlation-id`. */
  headers?: Record<string, string>;
}
