import { describe, expect, it } from "vitest";
import type { CompletionFinish } from "../completion-service.js";
import { chatCompletionFormat, parseChatCompletionRequest } from "./openai-chat-completions.js";
import { RestRequestError } from "./rest-request-error.js";

const base = { model: "llama-cpp/x", messages: [{ role: "user", content: "hi" }] };

function refusal(body: object): RestRequestError {
  try {
    parseChatCompletionRequest(body);
  } catch (error) {
    expect(error).toBeInstanceOf(RestRequestError);
    return error as RestRequestError;
  }
  throw new Error("the request should have been refused");
}

describe("parseChatCompletionRequest", () => {
  it("maps roles, text parts and parameters to call options", () => {
    expect(
      parseChatCompletionRequest({
        model: " openai/gpt-4o-mini ",
        messages: [
          { role: "developer", content: "be brief" },
          {
            role: "user",
            content: [
              { type: "text", text: "one" },
              { type: "text", text: "two" },
            ],
            name: "x",
          },
          { role: "assistant", content: "ok" },
        ],
        max_tokens: 9,
        max_completion_tokens: 7,
        temperature: 0.5,
        top_p: 1,
        stop: "\n",
        seed: 3,
        n: 1,
        stream: true,
        stream_options: { include_usage: true },
        presence_penalty: 0,
      }),
    ).toEqual({
      model: "openai/gpt-4o-mini",
      options: {
        messages: [
          { role: "system", content: "be brief" },
          { role: "user", content: "one\ntwo" },
          { role: "assistant", content: "ok" },
        ],
        maxTokens: 7,
        temperature: 0.5,
        topP: 1,
        stop: ["\n"],
        seed: 3,
      },
      stream: true,
      includeUsage: true,
    });
  });

  it("accepts the penalties' defaults, which many clients send on every request", () => {
    const parsed = parseChatCompletionRequest({
      ...base,
      frequency_penalty: 0,
      presence_penalty: 0,
      logit_bias: {},
    });
    expect(parsed.model).toBe(base.model);
  });

  it("leaves unset and null parameters undefined, and usage off unless streaming", () => {
    const parsed = parseChatCompletionRequest({
      ...base,
      temperature: null,
      stop: null,
      stream_options: { include_usage: true },
    });
    expect(parsed.options).toEqual({
      messages: [{ role: "user", content: "hi" }],
      maxTokens: undefined,
      temperature: undefined,
      topP: undefined,
      stop: undefined,
      seed: undefined,
    });
    expect(parsed.includeUsage).toBe(false);
  });

  it.each([
    [{ ...base, model: " " }, "model", /model is required/],
    [{ ...base, messages: [{ role: "user", content: null }] }, "messages[0].content", /must not be empty/],
    [
      { ...base, messages: [{ role: "function", content: "x" }] },
      "messages[0].role",
      /tool calls are not supported/,
    ],
    [{ ...base, max_completion_tokens: -1 }, "max_completion_tokens", /must be greater than 0 \(got -1\)/],
    [{ ...base, temperature: "warm" }, "temperature", /temperature must be a number \(got "warm"\)/],
    [{ ...base, stop: 5 }, "stop", /stop must be a string or an array of strings \(got 5\)/],
    [{ ...base, n: 3 }, "n", /n must be 1 \(got 3\)/],
    [{ ...base, logprobs: true }, "logprobs", /logprobs are not supported/],
    [{ ...base, tools: [{ type: "function" }] }, "tools", /tool and function calling are not supported/],
    [
      { ...base, response_format: { type: "json_object" } },
      "response_format",
      /"json_object" is not supported/,
    ],
    [{ ...base, stream_options: "yes" }, "stream_options", /stream_options must be an object \(got "yes"\)/],
    [
      { ...base, messages: [{ role: "wizard", content: "x" }] },
      "messages[0].role",
      /^messages\[0\]\.role must be "system", "developer", "user" or "assistant" \(got "wizard"\)$/,
    ],
    [
      { ...base, messages: [{ role: "user", content: [{ type: "text" }] }] },
      "messages[0].content[0].text",
      /^messages\[0\]\.content\[0\]\.text is required/,
    ],
    [
      { ...base, frequency_penalty: 0.5 },
      "frequency_penalty",
      /frequency_penalty is not supported .*\(got 0\.5\)/,
    ],
    [{ ...base, presence_penalty: -1 }, "presence_penalty", /presence_penalty is not supported/],
    [{ ...base, logit_bias: { "50256": -100 } }, "logit_bias", /logit_bias is not supported/],
    [
      { ...base, max_tokens: 1e20 },
      "max_tokens",
      /^max_tokens must be an integer no larger than 9007199254740991 \(got 100000000000000000000\)$/,
    ],
  ])("refuses %j naming %s", (body, param, message) => {
    const error = refusal(body);
    expect(error.status).toBe(400);
    expect(error.param).toBe(param);
    expect(error.message).toMatch(message);
  });
});

describe("chatCompletionFormat", () => {
  const meta = { id: "chatcmpl-c1", created: 1_700_000_000, model: "default", includeUsage: true };
  const finish: CompletionFinish = {
    finishReason: "content-filter",
    usage: { promptTokens: 3, completionTokens: 2 },
    model: "anthropic/claude-haiku-5-5",
    provider: "anthropic",
    attempts: 2,
    costUsd: 0,
  };

  it("spells text chunks with the requested model and ends with the serving one", () => {
    const chunks = chatCompletionFormat.chunks(meta);
    const text = JSON.parse(chunks.text('say "hi"\n'));
    expect(text).toEqual({
      id: "chatcmpl-c1",
      object: "chat.completion.chunk",
      created: 1_700_000_000,
      model: "default",
      system_fingerprint: null,
      choices: [{ index: 0, delta: { content: 'say "hi"\n' }, logprobs: null, finish_reason: null }],
      usage: null,
    });
    expect(JSON.parse(chunks.start()[0] ?? "")).toMatchObject({
      choices: [{ delta: { role: "assistant" } }],
    });
    const [last, usage] = chunks.finish(finish).map((chunk) => JSON.parse(chunk));
    expect(last).toMatchObject({
      model: "anthropic/claude-haiku-5-5",
      choices: [{ delta: {}, finish_reason: "content_filter" }],
      usage: null,
    });
    expect(usage).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
    });
  });

  it("leaves usage out of chunks unless asked for", () => {
    const chunks = chatCompletionFormat.chunks({ ...meta, includeUsage: false });
    expect(JSON.parse(chunks.text("x"))).not.toHaveProperty("usage");
    expect(chunks.finish(finish)).toHaveLength(1);
  });

  it("spells a whole answer", () => {
    expect(chatCompletionFormat.answer(meta, { ...finish, finishReason: "stop", text: "hello" })).toEqual({
      id: "chatcmpl-c1",
      object: "chat.completion",
      created: 1_700_000_000,
      model: "default",
      system_fingerprint: null,
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: "hello", refusal: null },
          logprobs: null,
          finish_reason: "stop",
        },
      ],
      usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
    });
  });
});
