import { ProviderError } from "./provider-error.js";

/**
 * The request cannot be served as asked (e.g. the prompt does not fit the model's context);
 * maps to INVALID_ARGUMENT. Never retryable. The message is written for the caller and is safe to show.
 */
export class InvalidRequestError extends ProviderError {
  constructor(message: string, options: { provider: string; cause?: unknown }) {
    super(message, { ...options, statusCode: 400, isRetryable: false });
    this.name = "InvalidRequestError";
  }
}
