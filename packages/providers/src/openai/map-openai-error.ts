import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";
import { ContextLengthExceededError } from "../errors/context-length-exceeded-error.js";
import { isRetryableStatus } from "../errors/is-retryable-status.js";
import { parseRetryAfter } from "../errors/parse-retry-after.js";
import { ProviderError } from "../errors/provider-error.js";
import {
  hasOpenAIErrorMessage,
  OPENAI_CONTEXT_LENGTH_EXCEEDED,
  OPENAI_INVALID_REQUEST_ERROR,
  OPENAI_PROVIDER_ID,
} from "./openai-api.js";

/** What the mapping needs besides the error. */
export interface MapOpenAIErrorOptions {
  /** Values that must never appear in a message (the API key); OpenAI-style `sk-…` keys are redacted anyway. */
  secrets?: readonly (string | null | undefined)[];
}

const provider = OPENAI_PROVIDER_ID;

/** Error codes of a socket that failed or closed early (Node, undici): the upstream may do better next time. */
const CONNECTION_FAILURE_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ERR_STREAM_PREMATURE_CLOSE",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

/**
 * Maps whatever the openai SDK (or the fetch under it) throws to the ProviderError family, so retry and
 * fallback can decide on `isRetryable` alone: statuses by `isRetryableStatus` (an explicit
 * `x-should-retry` wins), `retry-after(-ms)` kept; a prompt too long for the context is the caller's
 * InvalidRequestError; connection failures, sockets cut mid-body and unparseable stream data are
 * retryable with no status. Messages are for logs and never contain the API key.
 */
export function mapOpenAIError(error: unknown, { secrets = [] }: MapOpenAIErrorOptions = {}): ProviderError {
  if (error instanceof ProviderError) return error;
  const redact = (text: string) => redactSecrets(text, secrets);

  if (error instanceof APIConnectionTimeoutError) {
    return new ProviderError("OpenAI did not start answering before the request timed out", {
      provider,
      isRetryable: true,
      cause: error,
    });
  }
  if (error instanceof APIConnectionError) {
    const code = findConnectionFailureCode(error);
    return new ProviderError(`cannot reach OpenAI: ${redact(error.message)}${code ? ` (${code})` : ""}`, {
      provider,
      isRetryable: true,
      cause: error,
    });
  }
  if (error instanceof APIUserAbortError) {
    // Only the caller's signal aborts SDK requests, and a caller that aborted does not want a retry.
    return new ProviderError("the OpenAI request was aborted", {
      provider,
      isRetryable: false,
      cause: error,
    });
  }
  if (error instanceof APIError) return mapAPIError(error, redact);
  if (error instanceof SyntaxError) {
    return new ProviderError("OpenAI sent data that is not valid JSON (malformed stream or truncated body)", {
      provider,
      isRetryable: true,
      cause: error,
    });
  }
  const code = findConnectionFailureCode(error);
  if (code || isUndiciTermination(error)) {
    return new ProviderError(
      `the connection to OpenAI closed before the answer was complete (${code ?? "terminated"})`,
      {
        provider,
        isRetryable: true,
        cause: error,
      },
    );
  }
  // Anything else (an SDK misuse, a bug here) would fail the same way again.
  const message = redact(error instanceof Error ? error.message : String(error));
  return new ProviderError(`the OpenAI call failed: ${message}`, {
    provider,
    isRetryable: false,
    cause: error,
  });
}

function mapAPIError(error: APIError, redact: (text: string) => string): ProviderError {
  const upstream = redact(hasOpenAIErrorMessage(error.error) ? error.error.message : error.message);
  const code = error.code ? ` (${error.code})` : "";
  if (error.status === undefined) {
    // An `{"error": ...}` event inside a 200 stream: the upstream failed mid-answer.
    return new ProviderError(`OpenAI failed mid-stream${code}: ${upstream}`, {
      provider,
      isRetryable: error.type !== OPENAI_INVALID_REQUEST_ERROR,
      cause: error,
    });
  }
  if (error.status === 400 && error.code === OPENAI_CONTEXT_LENGTH_EXCEEDED) {
    return new ContextLengthExceededError({ provider, cause: error });
  }
  const shouldRetry = error.headers?.get("x-should-retry");
  return new ProviderError(`OpenAI answered ${error.status}${code}: ${upstream}`, {
    provider,
    statusCode: error.status,
    isRetryable:
      shouldRetry === "true" ? true : shouldRetry === "false" ? false : isRetryableStatus(error.status),
    retryAfterMs: parseRetryAfter(error.headers),
    cause: error,
  });
}

/** The first connection-failure code along the `cause` chain (undici nests the socket error). */
function findConnectionFailureCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    if ("code" in current && typeof current.code === "string" && CONNECTION_FAILURE_CODES.has(current.code)) {
      return current.code;
    }
    current = "cause" in current ? current.cause : undefined;
  }
  return undefined;
}

/** undici rejects a body read with `TypeError: terminated` when the socket closes mid-body, not always with a coded cause. */
function isUndiciTermination(error: unknown): boolean {
  return error instanceof TypeError && error.message === "terminated";
}

function redactSecrets(text: string, secrets: readonly (string | null | undefined)[]): string {
  let redacted = text;
  for (const secret of secrets) {
    if (secret && secret.length >= 4) redacted = redacted.split(secret).join("[redacted key]");
  }
  // OpenAI echoes a masked key (`sk-proj-****abcd`) in 401 messages; compatible servers may echo it whole.
  return redacted.replace(/\b(?:sk|rk)-[\w*.-]{6,}/g, "[redacted key]");
}
