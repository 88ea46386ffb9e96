import type { FinishReason } from "../language-model.js";
import type { ChatCompletionChunk } from "./openai-api.js";

/** The `finish_reason` values of the Chat Completions API (null while a stream is still going). */
export type OpenAIFinishReason = ChatCompletionChunk.Choice["finish_reason"];

/**
 * Maps OpenAI's finish reason to ours. Tool and function calls end the answer, so they are `stop`
 * (NOA sends no tools); null or an unknown value on a complete answer (seen from OpenAI-compatible
 * servers) is also `stop`, since the text is whole. A stream cut before any reason is the caller's
 * check, not a reason.
 */
export function mapOpenAIFinishReason(reason: OpenAIFinishReason | string | undefined): FinishReason {
  switch (reason) {
    case "length":
      return "length";
    case "content_filter":
      return "content-filter";
    default:
      return "stop";
  }
}
