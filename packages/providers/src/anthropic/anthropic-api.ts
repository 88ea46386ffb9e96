export type {
  MessageCreateParamsStreaming,
  MessageParam,
  RawMessageStreamEvent,
  StopReason,
} from "@anthropic-ai/sdk/resources/messages";

/** The provider id of Anthropic's models; model ids are `anthropic/<Anthropic model id>`. */
export const ANTHROPIC_PROVIDER_ID = "anthropic";

/** Where Anthropic's API is; the SDK wants it without `/v1`. */
export const ANTHROPIC_DEFAULT_BASE_URL = "https://api.anthropic.com";

/**
 * The `error.type` values of Anthropic's error bodies, with the HTTP status each is sent with
 * (https://docs.anthropic.com/en/api/errors). An `event: error` inside a 200 stream carries only the
 * type, so the status tells how to treat it.
 */
export const ANTHROPIC_ERROR_STATUS = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
} as const;

/** An `error.type` Anthropic sends. */
export type AnthropicErrorType = keyof typeof ANTHROPIC_ERROR_STATUS;

/** The body of every Anthropic error response, and the data of an `event: error` in a stream. */
export interface AnthropicErrorBody {
  type: "error";
  error: { type: AnthropicErrorType; message: string };
}
