import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
  BadRequestError,
  OpenAIError,
} from "openai";
import { describe, expect, it } from "vitest";
import { ContextLengthExceededError } from "../errors/context-length-exceeded-error.js";
import { InvalidRequestError } from "../errors/invalid-request-error.js";
import { ProviderError } from "../errors/provider-error.js";
import { mapOpenAIError } from "./map-openai-error.js";

function statusError(status: number, error: object = {}, headers: Record<string, string> = {}): APIError {
  return APIError.generate(
    status,
    { error: { message: "upstream says no", type: "server_error", param: null, code: null, ...error } },
    undefined,
    new Headers(headers),
  );
}

describe("mapOpenAIError", () => {
  it.each([408, 409, 429, 500, 502, 503, 504])("%i is retryable and keeps its status", (status) => {
    const mapped = mapOpenAIError(statusError(status));
    expect(mapped).toBeInstanceOf(ProviderError);
    expect(mapped).toMatchObject({ provider: "openai", statusCode: status, isRetryable: true });
  });

  it.each([400, 401, 403, 404, 422])("%i is not retryable", (status) => {
    const mapped = mapOpenAIError(statusError(status));
    expect(mapped).toMatchObject({ statusCode: status, isRetryable: false });
    expect(mapped).not.toBeInstanceOf(InvalidRequestError);
  });

  it("reads retry-after-ms before retry-after from the response Headers", () => {
    expect(mapOpenAIError(statusError(429, {}, { "retry-after": "2" })).retryAfterMs).toBe(2000);
    expect(
      mapOpenAIError(statusError(429, {}, { "retry-after-ms": "150", "retry-after": "2" })).retryAfterMs,
    ).toBe(150);
    expect(mapOpenAIError(statusError(429)).retryAfterMs).toBeUndefined();
  });

  it("lets an explicit x-should-retry header decide", () => {
    expect(mapOpenAIError(statusError(500, {}, { "x-should-retry": "false" })).isRetryable).toBe(false);
    expect(mapOpenAIError(statusError(400, {}, { "x-should-retry": "true" })).isRetryable).toBe(true);
  });

  it("makes a context-length 400 the caller's ContextLengthExceededError, with a message of our own", () => {
    const mapped = mapOpenAIError(
      statusError(400, {
        message: "This model's maximum context length is 128000 tokens.",
        type: "invalid_request_error",
        code: "context_length_exceeded",
      }),
    );
    expect(mapped).toBeInstanceOf(ContextLengthExceededError);
    expect(mapped).toMatchObject({ statusCode: 400, isRetryable: false });
    expect(mapped.message).toMatch(/context window/);
  });

  it("keeps the upstream message and code for the logs", () => {
    const mapped = mapOpenAIError(
      statusError(429, { message: "Rate limit reached", code: "rate_limit_exceeded" }),
    );
    expect(mapped.message).toContain("429");
    expect(mapped.message).toContain("rate_limit_exceeded");
    expect(mapped.message).toContain("Rate limit reached");
    expect(mapped.cause).toBeInstanceOf(APIError);
  });

  it("never puts the API key in a message, whole or as OpenAI masks it", () => {
    const key = "sk-proj-abcdefghijklmnop1234";
    const whole = mapOpenAIError(statusError(401, { message: `Incorrect API key provided: ${key}.` }), {
      secrets: [key],
    });
    expect(whole.message).not.toContain("abcdefghijklmnop");
    const masked = mapOpenAIError(
      statusError(401, { message: "Incorrect API key provided: sk-proj-****1234." }),
    );
    expect(masked.message).not.toContain("1234");
    const custom = mapOpenAIError(new Error("bad token local-key-5678 for vllm"), {
      secrets: ["local-key-5678"],
    });
    expect(custom.message).not.toContain("local-key-5678");
  });

  it.each([
    ["a connection error", new APIConnectionError({ cause: new Error("fetch failed") })],
    ["a timeout", new APIConnectionTimeoutError()],
    [
      "undici's terminated body with a socket cause",
      new TypeError("terminated", {
        cause: Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" }),
      }),
    ],
    ["undici's terminated body without a cause", new TypeError("terminated")],
    ["a socket reset", Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" })],
    [
      "a premature close",
      Object.assign(new Error("Premature close"), { code: "ERR_STREAM_PREMATURE_CLOSE" }),
    ],
    ["unparseable stream data", new SyntaxError("Unexpected token")],
  ])("%s is retryable without a status", (_, error) => {
    const mapped = mapOpenAIError(error);
    expect(mapped).toBeInstanceOf(ProviderError);
    expect(mapped).toMatchObject({ statusCode: undefined, isRetryable: true, cause: error });
  });

  it("retries an error event inside a stream unless it blames the request", () => {
    const serverError = new APIError(
      undefined,
      { message: "boom", type: "server_error" },
      undefined,
      undefined,
    );
    expect(mapOpenAIError(serverError)).toMatchObject({ isRetryable: true, statusCode: undefined });
    const badRequest = new APIError(
      undefined,
      { message: "no", type: "invalid_request_error" },
      undefined,
      undefined,
    );
    expect(mapOpenAIError(badRequest).isRetryable).toBe(false);
  });

  it("does not retry an abort, an SDK misuse or an unknown failure", () => {
    expect(mapOpenAIError(new APIUserAbortError()).isRetryable).toBe(false);
    expect(mapOpenAIError(new OpenAIError("Cannot iterate over a consumed stream")).isRetryable).toBe(false);
    expect(mapOpenAIError(new RangeError("bug")).isRetryable).toBe(false);
    expect(mapOpenAIError("a string").isRetryable).toBe(false);
  });

  it("passes a ProviderError through unchanged", () => {
    const error = new ProviderError("already mapped", { provider: "openai", isRetryable: true });
    expect(mapOpenAIError(error)).toBe(error);
  });

  it("maps the SDK's own subclasses by status, not by class", () => {
    const error = new BadRequestError(
      400,
      { message: "bad", type: "invalid_request_error" },
      undefined,
      new Headers(),
    );
    expect(mapOpenAIError(error)).toMatchObject({ statusCode: 400, isRetryable: false });
  });
});
