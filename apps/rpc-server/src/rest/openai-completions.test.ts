import { describe, expect, it } from "vitest";
import { completionFormat, parseCompletionRequest } from "./openai-completions.js";
import { RestRequestError } from "./rest-request-error.js";

const base = { model: "openai/gpt-4o-mini", prompt: "Once upon a time" };

describe("parseCompletionRequest (legacy completions)", () => {
  it("sends the prompt as one user message and echoes it when asked", () => {
    expect(
      parseCompletionRequest({
        ...base,
        prompt: ["Once"],
        max_tokens: 4,
        stop: ["."],
        echo: true,
        stream: true,
      }),
    ).toEqual({
      model: "openai/gpt-4o-mini",
      options: {
        messages: [{ role: "user", content: "Once" }],
        maxTokens: 4,
        temperature: undefined,
        topP: undefined,
        stop: ["."],
        seed: undefined,
      },
      stream: true,
      includeUsage: false,
      prefix: "Once",
    });
  });

  it.each([
    [{ ...base, prompt: ["a", "b"] }, "prompt", /prompt must be one string \(got 2\)/],
    [{ ...base, prompt: [1, 2] }, "prompt", /prompt must be a string \(got an array\)/],
    [{ ...base, prompt: "" }, "prompt", /prompt must not be empty/],
    [{ model: "x" }, "prompt", /prompt is required/],
    [{ ...base, best_of: 2 }, "best_of", /best_of must be 1/],
    [{ ...base, suffix: "end" }, "suffix", /suffix is not supported/],
    [{ ...base, logprobs: 2 }, "logprobs", /logprobs are not supported/],
    [{ ...base, temperature: 2.5 }, "temperature", /temperature must be between 0 and 2/],
    [{ ...base, frequency_penalty: 1 }, "frequency_penalty", /frequency_penalty is not supported/],
    [{ ...base, logit_bias: { "1": 5 } }, "logit_bias", /logit_bias is not supported/],
  ])("refuses %j naming %s", (body, param, message) => {
    let error: unknown;
    try {
      parseCompletionRequest(body);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RestRequestError);
    expect((error as RestRequestError).param).toBe(param);
    expect((error as RestRequestError).message).toMatch(message);
  });
});

describe("completionFormat", () => {
  it("spells text_completion chunks and the whole answer", () => {
    const meta = { id: "cmpl-c1", created: 1, model: "openai/gpt-4o-mini", includeUsage: false };
    const chunks = completionFormat.chunks(meta);
    expect(chunks.start()).toEqual([]);
    expect(JSON.parse(chunks.text("Hi"))).toEqual({
      id: "cmpl-c1",
      object: "text_completion",
      created: 1,
      model: "openai/gpt-4o-mini",
      system_fingerprint: null,
      choices: [{ text: "Hi", index: 0, logprobs: null, finish_reason: null }],
    });
    const finish = {
      finishReason: "length" as const,
      usage: { promptTokens: 1, completionTokens: 1 },
      model: "openai/gpt-4o-mini",
      provider: "openai",
      attempts: 1,
      costUsd: 0,
    };
    expect(JSON.parse(chunks.finish(finish)[0] ?? "")).toMatchObject({
      choices: [{ text: "", finish_reason: "length" }],
    });
    expect(completionFormat.answer(meta, { ...finish, text: "Hi" })).toMatchObject({
      object: "text_completion",
      choices: [{ text: "Hi", index: 0, logprobs: null, finish_reason: "length" }],
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
    });
  });
});
