import { Code, ConnectError } from "@connectrpc/connect";
import { AccessError } from "@noa/access";
import { BadRequestSchema } from "@noa/proto/google/rpc";
import {
  type CallSignal,
  CircuitOpenError,
  ContextLengthExceededError,
  NoSuchModelError,
  NoTargetAvailableError,
  ProviderError,
} from "@noa/providers";
import type { Logger } from "pino";
import { classifyError, codeNames } from "../classify-error.js";
import { logFailure } from "../log-failure.js";
import { RateLimitExceededError } from "../rate-limit-exceeded-error.js";
import { rateLimitHeaders } from "../rate-limit-headers.js";
import { RestRequestError } from "./rest-request-error.js";

/** OpenAI's error body: https://platform.openai.com/docs/guides/error-codes */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** An error as the REST face sends it: status, extra headers and OpenAI's body. */
export interface OpenAIErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: OpenAIErrorBody;
}

const statuses: Record<Code, number> = {
  [Code.InvalidArgument]: 400,
  [Code.FailedPrecondition]: 400,
  [Code.OutOfRange]: 400,
  [Code.Unauthenticated]: 401,
  [Code.PermissionDenied]: 403,
  [Code.NotFound]: 404,
  [Code.AlreadyExists]: 409,
  [Code.Aborted]: 409,
  [Code.ResourceExhausted]: 429,
  // Never sent: the client is gone. Logged as nginx's "client closed request".
  [Code.Canceled]: 499,
  [Code.Internal]: 500,
  [Code.Unknown]: 500,
  [Code.DataLoss]: 500,
  [Code.Unimplemented]: 501,
  [Code.Unavailable]: 503,
  [Code.DeadlineExceeded]: 504,
};

/** OpenAI's error `type` for a status. */
function typeOf(status: number): string {
  switch (status) {
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 429:
      return "rate_limit_error";
    default:
      return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

/**
 * The REST face's one mapping from anything a handler throws to an HTTP status and OpenAI's error body
 * (DESIGN.md's HTTP column), over the classification the Connect face uses too (classifyError). Every
 * message ends with the correlation id; 429s carry `Retry-After` (seconds), `retry-after-ms` and the spent
 * budget's `x-ratelimit-*` (remaining 0, reset when the next request is admitted); provider
 * failures and bugs are logged with their cause and shown only as a generic message. `param` is the
 * field a refusal names (a google.rpc.BadRequest detail's first field), and `promptParam` (default
 * `messages`) for a prompt beyond the model's context, which is OpenAI's `context_length_exceeded`.
 */
export function toOpenAIError(
  error: unknown,
  context: {
    correlationId: string;
    logger: Logger;
    promptParam?: string;
    /** The exchange's signal: its own abort reason (the server's shutdown) is logged at info, not as a failure. */
    signal?: Pick<CallSignal, "aborted" | "reason">;
  },
): OpenAIErrorResponse {
  const { correlationId } = context;
  const withId = (message: string) => `${message} (correlation id: ${correlationId})`;
  if (error instanceof RestRequestError) {
    return {
      status: error.status,
      headers: error.headers,
      body: {
        error: {
          message: withId(error.message),
          type: typeOf(error.status),
          param: error.param,
          code: error.code,
        },
      },
    };
  }
  const { code, message } = classifyError(error);
  logFailure(error, { code, message }, context);
  const status = code === Code.Unavailable ? unavailableStatus(error) : statuses[code];
  const headers: Record<string, string> = {};
  let openaiCode = codeNames[code];
  let text = message;
  let param: string | null =
    error instanceof ConnectError && code === Code.InvalidArgument
      ? (error.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field ?? null)
      : null;
  if (code === Code.Unauthenticated) {
    headers["www-authenticate"] = 'Bearer realm="noa"';
    openaiCode = "invalid_api_key";
  }
  if (error instanceof NoSuchModelError) {
    text = `model "${error.modelId}" does not exist; GET /v1/models lists the available models`;
    openaiCode = "model_not_found";
  } else if (error instanceof ProviderError && code === Code.NotFound) {
    openaiCode = "model_not_found";
  } else if (error instanceof ContextLengthExceededError) {
    openaiCode = "context_length_exceeded";
    param = context.promptParam ?? "messages";
  }
  if (code === Code.ResourceExhausted) {
    openaiCode = "rate_limit_exceeded";
    if (error instanceof AccessError && error.retryAfterMs !== undefined) {
      headers["retry-after"] = String(Math.max(1, Math.ceil(error.retryAfterMs / 1000)));
      headers["retry-after-ms"] = String(Math.ceil(error.retryAfterMs));
    }
    // The budget that refused, spent (remaining 0), as admitted requests' headers say where it stands.
    if (error instanceof RateLimitExceededError) {
      Object.assign(headers, rateLimitHeaders(error.standing, error.budget));
    }
  }
  return {
    status,
    headers,
    body: { error: { message: withId(text), type: typeOf(status), param, code: openaiCode } },
  };
}

/**
 * 502 when a model provider answered badly or not at all; 503 when NOA itself declines: every target's
 * breaker open, the server shutting down, its own stores unreachable.
 */
function unavailableStatus(error: unknown): number {
  if (error instanceof NoTargetAvailableError) {
    return error.errors.every((cause) => cause instanceof CircuitOpenError) ? 503 : 502;
  }
  if (error instanceof CircuitOpenError) return 503;
  return error instanceof ProviderError ? 502 : 503;
}
