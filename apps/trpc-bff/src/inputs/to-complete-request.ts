import { CacheMode } from "@noa/proto";
import { toProtoMessages } from "../web-types/web-completion.js";
import type { ChatInput } from "./chat-input.js";

const cacheModes = {
  default: CacheMode.UNSPECIFIED,
  skip: CacheMode.SKIP,
  refresh: CacheMode.REFRESH,
  force: CacheMode.FORCE,
} as const;

/** A validated chat input → the contract's CompleteRequest (StreamCompleteRequest has the same fields). */
export function toCompleteRequest(input: Omit<ChatInput, "cache"> & { cache?: ChatInput["cache"] }) {
  return {
    model: input.model,
    messages: toProtoMessages(input.messages),
    maxTokens: input.maxTokens,
    temperature: input.temperature,
    topP: input.topP,
    stop: input.stop ?? [],
    seed: input.seed,
    cache: input.cache ? { mode: cacheModes[input.cache] } : undefined,
  };
}
