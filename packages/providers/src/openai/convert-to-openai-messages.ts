import type { ChatMessage } from "../language-model.js";
import type { ChatCompletionMessageParam } from "./openai-api.js";

/**
 * Our conversation as Chat Completions messages, order and roles kept (`system` rather than
 * `developer`, since OpenAI maps it for reasoning models and OpenAI-compatible servers only know `system`).
 */
export function convertToOpenAIMessages(messages: readonly ChatMessage[]): ChatCompletionMessageParam[] {
  // Our three roles are OpenAI's names too; a copy keeps callers' objects out of the request.
  return messages.map(({ role, content }): ChatCompletionMessageParam => ({ role, content }));
}
