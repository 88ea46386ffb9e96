import type { CallOptions } from "@noa/providers";

/** The largest number of stop sequences a request may carry (OpenAI's limit). */
export const maxStopSequences = 4;

/**
 * The semantic rules both faces (Connect and OpenAI REST) apply to a completion request once its types
 * are right: what protobuf or JSON types cannot say (ranges, non-empty text). `invalid` builds the face's
 * own error from a message that says what to send instead and the field it is about (snake_case, as
 * both wire formats name them); the first broken rule is thrown.
 */
export function checkCompletionOptions(
  options: Omit<CallOptions, "signal" | "onAttempt">,
  invalid: (message: string, field: string) => Error,
): void {
  if (options.messages.length === 0) throw invalid("messages must hold at least one message", "messages");
  const empty = options.messages.findIndex((message) => message.content === "");
  if (empty !== -1) {
    throw invalid(`messages[${empty}].content must not be empty`, `messages[${empty}].content`);
  }
  const { maxTokens, temperature, topP, stop } = options;
  if (maxTokens !== undefined && maxTokens <= 0) {
    throw invalid(
      `max_tokens must be greater than 0 (got ${maxTokens}); leave it unset for the model's default`,
      "max_tokens",
    );
  }
  if (temperature !== undefined && !(temperature >= 0 && temperature <= 2)) {
    throw invalid(`temperature must be between 0 and 2 (got ${temperature})`, "temperature");
  }
  if (topP !== undefined && !(topP > 0 && topP <= 1)) {
    throw invalid(`top_p must be greater than 0 and at most 1 (got ${topP})`, "top_p");
  }
  if (stop === undefined) return;
  if (stop.length > maxStopSequences) {
    throw invalid(`stop holds at most ${maxStopSequences} sequences (got ${stop.length})`, "stop");
  }
  const emptyStop = stop.indexOf("");
  if (emptyStop !== -1) throw invalid(`stop[${emptyStop}] must not be empty`, `stop[${emptyStop}]`);
}
