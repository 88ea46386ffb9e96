import { Code, ConnectError } from "@connectrpc/connect";
import { AccessError } from "@noa/access";
import {
  CircuitOpenError,
  NoSuchModelError,
  NoTargetAvailableError,
  ProviderError,
  StreamInterruptedError,
} from "@noa/providers";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { RateLimitExceededError } from "../rate-limit-exceeded-error.js";
import { RestRequestError } from "./rest-request-error.js";
import { toOpenAIError } from "./to-openai-error.js";

const logged: string[] = [];
const context = {
  correlationId: "cid-1",
  logger: pino({ level: "info" }, { write: (line) => logged.push(line) }),
};
const upstream = new ProviderError("upstream said: key sk-secret", {
  provider: "openai",
  statusCode: 500,
  isRetryable: true,
});

describe("toOpenAIError", () => {
  it.each([
    [new AccessError("invalid-argument", "bad"), 400, "invalid_request_error", "invalid_argument"],
    [new AccessError("unauthenticated", "who?"), 401, "authentication_error", "invalid_api_key"],
    [new AccessError("permission-denied", "no"), 403, "permission_error", "permission_denied"],
    [new NoSuchModelError("x/y"), 404, "not_found_error", "model_not_found"],
    [
      new AccessError("resource-exhausted", "slow down", { retryAfterMs: 1500 }),
      429,
      "rate_limit_error",
      "rate_limit_exceeded",
    ],
    [upstream, 502, "server_error", "unavailable"],
    [new NoTargetAvailableError("default", [upstream]), 502, "server_error", "unavailable"],
    [new StreamInterruptedError(3, upstream), 502, "server_error", "unavailable"],
    [
      new NoTargetAvailableError("default", [new CircuitOpenError("openai/x", Date.now() + 1000, "openai")]),
      503,
      "server_error",
      "unavailable",
    ],
    [
      new ConnectError("the server is shutting down; retry the call", Code.Unavailable),
      503,
      "server_error",
      "unavailable",
    ],
    [new AccessError("unavailable", "store down"), 503, "server_error", "unavailable"],
    [new ConnectError("too slow", Code.DeadlineExceeded), 504, "server_error", "deadline_exceeded"],
    [
      new TypeError("Cannot read properties of undefined (reading 'secret')"),
      500,
      "server_error",
      "internal",
    ],
  ])("maps %s", (error, status, type, code) => {
    const mapped = toOpenAIError(error, context);
    expect(mapped.status).toBe(status);
    expect(mapped.body.error).toMatchObject({ type, code, param: null });
    expect(mapped.body.error.message).toMatch(/ \(correlation id: cid-1\)$/);
    expect(mapped.body.error.message).not.toMatch(/secret/);
  });

  it("sends the retry delay of a rate limit in seconds and milliseconds", () => {
    const { headers } = toOpenAIError(
      new AccessError("resource-exhausted", "later", { retryAfterMs: 1_200 }),
      context,
    );
    expect(headers).toEqual({ "retry-after": "2", "retry-after-ms": "1200" });
  });

  it("says which budget refused in x-ratelimit-* headers: spent, and when the next request is admitted", () => {
    const refused = (reason: "requests" | "tokens", limit: number) =>
      toOpenAIError(
        new RateLimitExceededError({ allowed: false, reason, limit, retryAfterMs: 2_500 }),
        context,
      );
    expect(refused("requests", 10)).toMatchObject({
      status: 429,
      headers: {
        "retry-after": "3",
        "x-ratelimit-limit-requests": "10",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "3s",
      },
    });
    // The token budget (tokens per minute) is OpenAI's `-tokens` headers; the request bucket was not read.
    const tokens = refused("tokens", 20_000);
    expect(tokens.headers).toMatchObject({
      "x-ratelimit-limit-tokens": "20000",
      "x-ratelimit-remaining-tokens": "0",
      "x-ratelimit-reset-tokens": "3s",
    });
    expect(tokens.headers).not.toHaveProperty("x-ratelimit-remaining-requests");
    expect(tokens.body.error.message).toMatch(/^token rate limit of this key reached; retry in 3 s/);
  });

  it("tells REST clients where to list models", () => {
    const { body } = toOpenAIError(new NoSuchModelError("llama-cpp/nope"), context);
    expect(body.error.message).toMatch(/^model "llama-cpp\/nope" does not exist; GET \/v1\/models lists/);
  });

  it("keeps a REST refusal's status, param, code and headers", () => {
    const refusal = new RestRequestError(405, "use GET", {
      code: "method_not_allowed",
      headers: { allow: "GET" },
    });
    expect(toOpenAIError(refusal, context)).toEqual({
      status: 405,
      headers: { allow: "GET" },
      body: {
        error: {
          message: "use GET (correlation id: cid-1)",
          type: "invalid_request_error",
          param: null,
          code: "method_not_allowed",
        },
      },
    });
  });

  it("logs the cause of provider failures and bugs, not of caller mistakes", () => {
    logged.length = 0;
    toOpenAIError(new AccessError("invalid-argument", "bad"), context);
    expect(logged).toEqual([]);
    toOpenAIError(upstream, context);
    expect(logged.join("")).toContain("upstream said");
  });
});
