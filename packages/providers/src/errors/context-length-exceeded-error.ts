import { InvalidRequestError } from "./invalid-request-error.js";

/**
 * The prompt (with the answer's room) does not fit the model's context window: the caller must shorten
 * the conversation or lower maxTokens. An InvalidRequestError (INVALID_ARGUMENT); OpenAI's REST face
 * calls it `context_length_exceeded`.
 */
export class ContextLengthExceededError extends InvalidRequestError {
  constructor(
    options: { provider: string; cause?: unknown },
    message = "the conversation plus maxTokens exceeds the model's context window; shorten the conversation or lower maxTokens",
  ) {
    super(message, options);
    this.name = "ContextLengthExceededError";
  }
}
