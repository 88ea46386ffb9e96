import type { ChatMessage } from "../language-model.js";
import type { MessageParam } from "./anthropic-api.js";

/** What the Messages API takes for a conversation: the system prompt apart, then alternating turns. */
export interface AnthropicPrompt {
  system?: string;
  messages: MessageParam[];
}

/**
 * The user turn put first when a conversation has none there (it starts with the assistant, or holds
 * only system messages): Anthropic wants a user turn first and rejects empty text, and a lone "." steers
 * the model least.
 */
export const LEADING_USER_PLACEHOLDER = ".";

const TURN_SEPARATOR = "\n\n";

/**
 * Converts our chat messages to Anthropic's shape (https://docs.anthropic.com/en/api/messages):
 * every system message, wherever it stands, joins the top-level `system` (only some models accept
 * `role: "system"` turns); messages without visible text are dropped; consecutive turns of one role are merged, since
 * Anthropic wants user and assistant to alternate; a conversation that does not start with a user turn
 * gets `LEADING_USER_PLACEHOLDER` before it; a final assistant turn (a prefill) loses its trailing
 * whitespace, which Anthropic rejects.
 */
export function convertToAnthropicMessages(chat: readonly ChatMessage[]): AnthropicPrompt {
  const systemTexts: string[] = [];
  const turns: { role: "user" | "assistant"; texts: string[] }[] = [];
  for (const { role, content } of chat) {
    // Anthropic rejects text blocks without visible text; such a message says nothing anyway.
    if (content.trim().length === 0) continue;
    if (role === "system") {
      systemTexts.push(content);
      continue;
    }
    const last = turns.at(-1);
    if (last?.role === role) last.texts.push(content);
    else turns.push({ role, texts: [content] });
  }
  if (turns[0]?.role !== "user") turns.unshift({ role: "user", texts: [LEADING_USER_PLACEHOLDER] });

  const messages: MessageParam[] = turns.map(({ role, texts }) => ({
    role,
    content: texts.join(TURN_SEPARATOR),
  }));
  const last = messages.at(-1);
  if (last?.role === "assistant" && typeof last.content === "string") last.content = last.content.trimEnd();
  return systemTexts.length > 0 ? { system: systemTexts.join(TURN_SEPARATOR), messages } : { messages };
}
