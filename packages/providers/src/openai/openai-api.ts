import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParamsBase,
  ChatCompletionMessageParam,
} from "openai/resources/chat/completions";

// The SDK types the wire format in full; these are the parts NOA reads and the loopback server writes.
export type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParamsBase,
  ChatCompletionMessageParam,
};

/** The provider id under which OpenAI (and OpenAI-compatible servers reached through `baseURL`) are served. */
export const OPENAI_PROVIDER_ID = "openai";

/** OpenAI's public endpoint; `baseURL` includes `/v1`, as the SDK wants it. */
export const OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1";

/**
 * The error object of OpenAI's error bodies (`{"error": {...}}`) and in-stream error events,
 * https://platform.openai.com/docs/guides/error-codes.
 */
export interface OpenAIErrorObject {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

/** An error response body, as OpenAI sends it with every non-2xx status. */
export interface OpenAIErrorBody {
  error: OpenAIErrorObject;
}

/** The `error.code` OpenAI sends when prompt plus completion do not fit the model's context. */
export const OPENAI_CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded";

/** The `error.type` of errors caused by the request itself (bad parameter, unknown model, too long). */
export const OPENAI_INVALID_REQUEST_ERROR = "invalid_request_error";

/** Whether `value` carries an OpenAI error object's message (the SDK's `APIError.error` is typed `Object`). */
export function hasOpenAIErrorMessage(value: unknown): value is Pick<OpenAIErrorObject, "message"> {
  return (
    typeof value === "object" && value !== null && "message" in value && typeof value.message === "string"
  );
}
