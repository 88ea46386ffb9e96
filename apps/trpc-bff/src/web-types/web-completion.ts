import {
  type CompleteResponse,
  FinishReason,
  type Message,
  Role,
  type StreamCompleteResponse,
  type Usage,
} from "@noa/proto";

/** Who wrote a message. */
export type WebRole = "system" | "user" | "assistant";

/** Why generation ended; `cancelled` when the caller stopped it. */
export type WebFinishReason = "stop" | "length" | "content-filter" | "cancelled" | "unknown";

/** Tokens a request consumed. */
export interface WebUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

/** What the end of an answer says: why it ended, usage, cost, and who served it. */
export interface WebCompletionSummary {
  /** The completion's id (its correlation id on rpc-server). */
  id: string;
  finishReason: WebFinishReason;
  usage: WebUsage;
  provider: string;
  model: string;
  attempts: number;
  costUsd: number;
  cached: boolean;
  cacheTier: string | null;
}

/** A whole answer (chat.complete). */
export interface WebCompletion extends WebCompletionSummary {
  text: string;
}

/** One event of chat.stream: text as it is generated, then either `done` or `error`. */
export type WebStreamEvent =
  | { type: "delta"; text: string }
  | ({ type: "done" } & WebCompletionSummary)
  | {
      type: "error";
      /** The tRPC error code (DESIGN.md's table), as a thrown TRPCError would carry it. */
      code: string;
      message: string;
      correlationId: string;
      retryAfterMs: number | null;
    };

const finishReasons: Record<FinishReason, WebFinishReason> = {
  [FinishReason.UNSPECIFIED]: "unknown",
  [FinishReason.STOP]: "stop",
  [FinishReason.LENGTH]: "length",
  [FinishReason.CONTENT_FILTER]: "content-filter",
  [FinishReason.CANCELLED]: "cancelled",
};

const roles: Record<WebRole, Role> = { system: Role.SYSTEM, user: Role.USER, assistant: Role.ASSISTANT };

/** Web messages → the contract's messages. */
export function toProtoMessages(
  messages: ReadonlyArray<{ role: WebRole; content: string }>,
): Array<Pick<Message, "role" | "content">> {
  return messages.map((message) => ({ role: roles[message.role], content: message.content }));
}

/** Role → WebRole (unset roles read as user). */
export function toWebRole(role: Role): WebRole {
  return role === Role.SYSTEM ? "system" : role === Role.ASSISTANT ? "assistant" : "user";
}

function toWebUsage(usage: Usage | undefined): WebUsage {
  return {
    promptTokens: usage?.promptTokens ?? 0,
    completionTokens: usage?.completionTokens ?? 0,
    totalTokens: usage?.totalTokens ?? 0,
  };
}

/** The summary fields of a CompleteResponse or of a stream's last message. */
export function toWebSummary(response: CompleteResponse | StreamCompleteResponse): WebCompletionSummary {
  return {
    id: response.id,
    finishReason: finishReasons[response.finishReason],
    usage: toWebUsage(response.usage),
    provider: response.provider,
    model: response.model,
    attempts: response.attempts,
    costUsd: response.costUsd,
    cached: response.cached,
    cacheTier: response.cacheTier || null,
  };
}

/** CompleteResponse → WebCompletion. */
export function toWebCompletion(response: CompleteResponse): WebCompletion {
  return { ...toWebSummary(response), text: response.text };
}
