import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type CacheControlSchema, CacheMode, CompleteRequestSchema, Role } from "@noa/proto";
import { BadRequestSchema } from "@noa/proto/google/rpc";
import { describe, expect, it } from "vitest";
import { parseCompletionRequest } from "./parse-completion-request.js";

const signal = new AbortController().signal;

describe("parseCompletionRequest", () => {
  it("maps roles, parameters and the signal to call options", () => {
    const request = create(CompleteRequestSchema, {
      model: " llama-cpp/x ",
      messages: [
        { role: Role.SYSTEM, content: "be brief" },
        { role: Role.USER, content: "hi" },
        { role: Role.ASSISTANT, content: "hello" },
      ],
      maxTokens: 7,
      temperature: 0,
      topP: 1,
      stop: ["\n"],
      seed: 42,
    });
    expect(parseCompletionRequest(request, signal)).toEqual({
      model: "llama-cpp/x",
      options: {
        messages: [
          { role: "system", content: "be brief" },
          { role: "user", content: "hi" },
          { role: "assistant", content: "hello" },
        ],
        maxTokens: 7,
        temperature: 0,
        topP: 1,
        stop: ["\n"],
        seed: 42,
        signal,
      },
    });
  });

  it("leaves unset optional fields undefined so providers use their defaults", () => {
    const request = create(CompleteRequestSchema, {
      model: "m/x",
      messages: [{ role: Role.USER, content: "hi" }],
    });
    const { options } = parseCompletionRequest(request, signal);
    expect(options.maxTokens).toBeUndefined();
    expect(options.temperature).toBeUndefined();
    expect(options.stop).toBeUndefined();
  });

  it.each([
    [{ temperature: Number.NaN }, /temperature must be between 0 and 2 \(got NaN\)/],
    [{ topP: 1.5 }, /top_p must be greater than 0 and at most 1 \(got 1.5\)/],
    [{ stop: ["ok", ""] }, /stop\[1\] must not be empty/],
    [
      {
        messages: [
          { role: Role.USER, content: "hi" },
          { role: Role.UNSPECIFIED, content: "x" },
        ],
      },
      /messages\[1\]\.role/,
    ],
  ])("refuses %o", (patch, message) => {
    const request = create(CompleteRequestSchema, {
      model: "m/x",
      messages: [{ role: Role.USER, content: "hi" }],
      ...patch,
    });
    let error: unknown;
    try {
      parseCompletionRequest(request, signal);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.InvalidArgument);
    expect((error as ConnectError).rawMessage).toMatch(message);
  });

  it("names the field in a google.rpc.BadRequest detail", () => {
    const request = create(CompleteRequestSchema, {
      model: "m/x",
      messages: [{ role: Role.USER, content: "hi" }],
      topP: 2,
    });
    let error: ConnectError | undefined;
    try {
      parseCompletionRequest(request, signal);
    } catch (e) {
      error = e as ConnectError;
    }
    const [badRequest] = error?.findDetails(BadRequestSchema) ?? [];
    expect(badRequest?.fieldViolations).toEqual([
      expect.objectContaining({
        field: "top_p",
        description: "top_p must be greater than 0 and at most 1 (got 2)",
      }),
    ]);
  });
});

describe("parseCompletionRequest: cache control", () => {
  const ask = (cache: MessageInitShape<typeof CacheControlSchema> | undefined) =>
    parseCompletionRequest(
      create(CompleteRequestSchema, { model: "m/x", messages: [{ role: Role.USER, content: "hi" }], cache }),
      signal,
    ).options.cache;

  it("maps each mode and the TTL, and leaves the server's defaults when unset", () => {
    expect(ask(undefined)).toBeUndefined();
    expect(ask({})).toEqual({ mode: "default" });
    expect(ask({ mode: CacheMode.SKIP })).toEqual({ mode: "skip" });
    expect(ask({ mode: CacheMode.REFRESH, ttlSeconds: 60 })).toEqual({ mode: "refresh", ttlSeconds: 60 });
    expect(ask({ mode: CacheMode.FORCE, ttlSeconds: 0 })).toEqual({ mode: "force", ttlSeconds: 0 });
  });

  it("refuses a mode the contract does not know, naming the field", () => {
    try {
      ask({ mode: 9 as CacheMode });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).code).toBe(Code.InvalidArgument);
      expect((error as ConnectError).findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field).toBe(
        "cache.mode",
      );
    }
  });
});
