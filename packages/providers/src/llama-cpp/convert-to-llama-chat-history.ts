import type { ChatHistoryItem } from "node-llama-cpp";
import type { ChatMessage } from "../language-model.js";

/**
 * Our messages as node-llama-cpp chat history, ending with the model response to generate: an empty
 * one after a user or system turn, or the caller's trailing assistant message, which the model then
 * continues (prefill; only the continuation is returned), as llama.cpp's server does.
 */
export function convertToLlamaChatHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const history = messages.map(
    (message): ChatHistoryItem =>
      message.role === "assistant"
        ? { type: "model", response: [message.content] }
        : { type: message.role, text: message.content },
  );
  if (history.at(-1)?.type !== "model") history.push({ type: "model", response: [] });
  return history;
}
