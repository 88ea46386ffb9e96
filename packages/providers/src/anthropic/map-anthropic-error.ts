import {
  AnthropicError,
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
} from "@anthropic-ai/sdk";
import { ContextLengthExceededError } from "../errors/context-length-exceeded-error.js";
import { InvalidRequestError } from "../errors/invalid-request-error.js";
import { isRetryableStatus } from "../errors/is-retryable-status.js";
import { parseRetryAfter } from "../errors/parse-retry-after.js";
import { ProviderError } from "../errors/provider-error.js";
import { ANTHROPIC_ERROR_STATUS, ANTHROPIC_PROVIDER_ID, type AnthropicErrorType } from "./anthropic-api.js";

const provider = ANTHROPIC_PROVIDER_ID;

/**
 * Maps whatever a call through `@anthropic-ai/sdk` threw to the ProviderError family: an HTTP status
 * is retryable as `isRetryableStatus` says (Anthropic's 529 overloaded too) and keeps its
 * `retry-after`; a 400 `invalid_request_error` or a 413 is the caller's InvalidRequestError; an
 * `event: error` inside a stream is retryable as its type's status would be; connection failures,
 * timeouts, cut or unreadable streams are retryable without a status. Messages are built from the
 * status, the error type and Anthropic's own message, never from request headers, so the API key
 * cannot leak into them.
 */
export function mapAnthropicError(error: unknown): ProviderError {
  if (error instanceof ProviderError) return error;
  if (error instanceof APIConnectionTimeoutError) {
    return new ProviderError("anthropic: the request timed out", {
      provider,
      isRetryable: true,
      cause: error,
    });
  }
  if (error instanceof APIConnectionError) {
    return new ProviderError("anthropic: cannot connect", { provider, isRetryable: true, cause: error });
  }
  if (error instanceof APIUserAbortError) {
    // Our own aborts never get here (they end the call as cancelled); this one came from elsewhere.
    return new ProviderError("anthropic: the request was aborted", {
      provider,
      isRetryable: false,
      cause: error,
    });
  }
  if (error instanceof APIError) return fromApiError(error);
  if (error instanceof AnthropicError) {
    // Raised by the SDK before sending (configuration, arguments): trying again changes nothing.
    return new ProviderError(`anthropic: ${error.message}`, { provider, isRetryable: false, cause: error });
  }
  // Anything else broke the transport or the stream: a reset socket ("terminated"), a JSON.parse of
  // a malformed event, a body cut short.
  return new ProviderError("anthropic: the response was cut off or unreadable", {
    provider,
    isRetryable: true,
    cause: error,
  });
}

function fromApiError(error: APIError): ProviderError {
  const type = error.type ?? undefined;
  const detail = [type, error.apiMessage].filter(Boolean).join(": ");
  const status = error.status;
  if (status === undefined) {
    // An `event: error` in a 200 stream, e.g. `overloaded_error` after some text was sent.
    const equivalent =
      type && type in ANTHROPIC_ERROR_STATUS ? ANTHROPIC_ERROR_STATUS[type as AnthropicErrorType] : 500;
    return new ProviderError(`anthropic: error event in the stream (${detail || "no detail"})`, {
      provider,
      isRetryable: isRetryableStatus(equivalent),
      cause: error,
    });
  }
  if (
    status === 400 &&
    type === "invalid_request_error" &&
    /^prompt is too long/i.test(error.apiMessage ?? "")
  ) {
    // Anthropic's words for a prompt beyond the model's context window.
    return new ContextLengthExceededError({ provider, cause: error });
  }
  if ((status === 400 && type === "invalid_request_error") || status === 413) {
    return new InvalidRequestError(
      `Anthropic rejected the request: ${error.apiMessage ?? `status ${status}`}`,
      {
        provider,
        cause: error,
      },
    );
  }
  return new ProviderError(`anthropic: status ${status}${detail ? ` (${detail})` : ""}`, {
    provider,
    statusCode: status,
    isRetryable: isRetryableStatus(status),
    retryAfterMs: parseRetryAfter(error.headers),
    cause: error,
  });
}
