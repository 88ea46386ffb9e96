import {
  AnthropicError,
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
} from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { ContextLengthExceededError } from "../errors/context-length-exceeded-error.js";
import { InvalidRequestError } from "../errors/invalid-request-error.js";
import { ProviderError } from "../errors/provider-error.js";
import { mapAnthropicError } from "./map-anthropic-error.js";

function statusError(
  status: number,
  type: string,
  headers: Record<string, string> = {},
  message = `${type} happened`,
): APIError {
  return APIError.generate(
    status,
    { type: "error", error: { type, message } },
    undefined,
    new Headers(headers),
  );
}

describe("mapAnthropicError", () => {
  it.each([408, 409, 429, 500, 503, 529])("makes status %i retryable and keeps it", (status) => {
    const error = mapAnthropicError(statusError(status, "api_error"));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ provider: "anthropic", statusCode: status, isRetryable: true });
  });

  it("keeps the delay from retry-after-ms, else from retry-after", () => {
    expect(
      mapAnthropicError(statusError(429, "rate_limit_error", { "retry-after-ms": "150" })).retryAfterMs,
    ).toBe(150);
    expect(mapAnthropicError(statusError(529, "overloaded_error", { "retry-after": "2" })).retryAfterMs).toBe(
      2000,
    );
    expect(mapAnthropicError(statusError(503, "api_error")).retryAfterMs).toBeUndefined();
  });

  it("makes a 400 invalid_request_error and a 413 the caller's InvalidRequestError", () => {
    const invalid = mapAnthropicError(statusError(400, "invalid_request_error"));
    expect(invalid).toBeInstanceOf(InvalidRequestError);
    expect(invalid).toMatchObject({ statusCode: 400, isRetryable: false });
    expect(invalid.message).toContain("invalid_request_error happened");
    expect(mapAnthropicError(statusError(413, "request_too_large"))).toBeInstanceOf(InvalidRequestError);
  });

  it("makes Anthropic's prompt too long the caller's ContextLengthExceededError", () => {
    const tooLong = mapAnthropicError(
      statusError(400, "invalid_request_error", {}, "prompt is too long: 210000 tokens > 200000 maximum"),
    );
    expect(tooLong).toBeInstanceOf(ContextLengthExceededError);
    expect(tooLong.message).toMatch(/exceeds the model's context window/);
  });

  it.each([
    [400, "billing_error"],
    [401, "authentication_error"],
    [403, "permission_error"],
    [404, "not_found_error"],
  ])("makes %i %s a non-retryable ProviderError that is not the caller's fault", (status, type) => {
    const error = mapAnthropicError(statusError(status, type));
    expect(error).not.toBeInstanceOf(InvalidRequestError);
    expect(error).toMatchObject({ statusCode: status, isRetryable: false });
  });

  it("makes connection failures and timeouts retryable without a status", () => {
    for (const cause of [
      new APIConnectionError({ cause: new TypeError("fetch failed") }),
      new APIConnectionTimeoutError(),
    ]) {
      expect(mapAnthropicError(cause)).toMatchObject({ statusCode: undefined, isRetryable: true, cause });
    }
  });

  it("treats an error event inside a stream as its type's status would be, without a status", () => {
    const event = (type: string) =>
      new APIError(
        undefined,
        { type: "error", error: { type, message: "x" } },
        undefined,
        new Headers(),
        type as never,
      );
    expect(mapAnthropicError(event("overloaded_error"))).toMatchObject({
      statusCode: undefined,
      isRetryable: true,
    });
    expect(mapAnthropicError(event("api_error")).isRetryable).toBe(true);
    expect(mapAnthropicError(event("invalid_request_error")).isRetryable).toBe(false);
  });

  it("makes a cut or unreadable stream retryable", () => {
    expect(mapAnthropicError(new SyntaxError("Unexpected token n in JSON")).isRetryable).toBe(true);
    expect(mapAnthropicError(new TypeError("terminated")).isRetryable).toBe(true);
  });

  it("does not retry what the SDK refused before sending", () => {
    expect(mapAnthropicError(new AnthropicError("Streaming is required")).isRetryable).toBe(false);
    expect(mapAnthropicError(new APIUserAbortError()).isRetryable).toBe(false);
  });

  it("passes a ProviderError through", () => {
    const error = new ProviderError("x", { provider: "anthropic", isRetryable: true });
    expect(mapAnthropicError(error)).toBe(error);
  });
});
