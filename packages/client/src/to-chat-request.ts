import { type CompleteResponse, FinishReason, Role, type StreamCompleteResponse } from "@noa/proto";
import type { ChatFinishReason, ChatRequest, ChatRole, ChatSummary } from "./chat-types.js";

const roles: Record<ChatRole, Role> = {
  system: Role.SYSTEM,
  user: Role.USER,
  assistant: Role.ASSISTANT,
};

/** The fields `CompleteRequest` and `StreamCompleteRequest` share, as a plain init object for either. */
export interface CompletionRequestInit {
  model: string;
  messages: Array<{ role: Role; content: string }>;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  stop?: string[];
  seed?: number;
}

/** The chat helpers' plain request as the contract's `CompleteRequest` (and `StreamCompleteRequest`) fields. */
export function toCompleteRequest(request: ChatRequest): CompletionRequestInit {
  return {
    model: request.model,
    messages:
      typeof request.messages === "string"
        ? [{ role: Role.USER, content: request.messages }]
        : request.messages.map(({ role, content }) => ({ role: roles[role], content })),
    maxTokens: request.maxTokens,
    temperature: request.temperature,
    topP: request.topP,
    stop: request.stop,
    seed: request.seed,
  };
}

const finishReasons: Record<FinishReason, ChatFinishReason> = {
  [FinishReason.UNSPECIFIED]: "unknown",
  [FinishReason.STOP]: "stop",
  [FinishReason.LENGTH]: "length",
  [FinishReason.CONTENT_FILTER]: "content-filter",
  [FinishReason.CANCELLED]: "cancelled",
};

/** The summary fields of a whole answer or of a stream's last message. */
export function toChatSummary(message: CompleteResponse | StreamCompleteResponse): ChatSummary {
  return {
    id: message.id,
    finishReason: finishReasons[message.finishReason] ?? "unknown",
    usage: {
      promptTokens: message.usage?.promptTokens ?? 0,
      completionTokens: message.usage?.completionTokens ?? 0,
      totalTokens: message.usage?.totalTokens ?? 0,
    },
    costUsd: message.costUsd,
    provider: message.provider,
    model: message.model,
    attempts: message.attempts,
    cached: message.cached,
    cacheTier: message.cacheTier,
  };
}
