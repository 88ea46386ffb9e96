import { afterEach, describe, expect, it, vi } from "vitest";
import { InvalidRequestError } from "../errors/invalid-request-error.js";
import { ProviderError } from "../errors/provider-error.js";
import type { CallOptions, LanguageModel, StreamPart } from "../language-model.js";
import { describeLanguageModelContract } from "../testing/language-model-contract.js";
import type { LoopbackServer } from "../testing/loopback-fault.js";
import {
  OPENAI_LOOPBACK_API_KEY,
  type OpenAILoopbackServerOptions,
  startOpenAILoopbackServer,
} from "./__fixtures__/openai-loopback-server.js";
import { createOpenAIProvider, type OpenAIProviderOptions } from "./openai-provider.js";

describeLanguageModelContract("openai", async () => {
  // A few ms between chunks leave the aborting client a wide margin before the answer would end by itself.
  const server = await startOpenAILoopbackServer({ chunkDelayMs: 5 });
  const provider = createOpenAIProvider({ apiKey: OPENAI_LOOPBACK_API_KEY, baseURL: server.baseURL });
  return {
    model: provider.languageModel("gpt-4o-mini"),
    assertStoppedAfterAbort: async () => {
      await vi.waitFor(() => expect(server.requests.at(-1)?.closedByClient).toBe(true));
    },
    close: () => server.close(),
  };
});

const messages: CallOptions["messages"] = [
  { role: "system", content: "You are terse." },
  { role: "user", content: "Tell me about the sea." },
];

interface Drained {
  parts: StreamPart[];
  error: unknown;
}

async function drain(stream: AsyncIterable<StreamPart>): Promise<Drained> {
  const parts: StreamPart[] = [];
  try {
    for await (const part of stream) parts.push(part);
    return { parts, error: undefined };
  } catch (error) {
    return { parts, error };
  }
}

function textDeltas(parts: StreamPart[]): number {
  return parts.filter((part) => part.type === "text-delta").length;
}

describe("OpenAI language model against a loopback OpenAI server", () => {
  let server: LoopbackServer;
  afterEach(async () => {
    await server?.close();
  });

  async function start(
    serverOptions: OpenAILoopbackServerOptions = {},
    providerOptions: Partial<OpenAIProviderOptions> = {},
    modelId = "gpt-4o-mini",
  ): Promise<LanguageModel> {
    server = await startOpenAILoopbackServer(serverOptions);
    const provider = createOpenAIProvider({
      apiKey: OPENAI_LOOPBACK_API_KEY,
      baseURL: server.baseURL,
      ...providerOptions,
    });
    return provider.languageModel(modelId);
  }

  describe("request mapping", () => {
    it("sends the mapped options, system message first, as one non-streaming request", async () => {
      const model = await start();
      await model.generate({ messages, maxTokens: 7, temperature: 0.5, topP: 0.9, stop: ["deep"], seed: 42 });
      expect(server.requests).toHaveLength(1);
      expect(server.requests[0]?.path).toBe("/v1/chat/completions");
      expect(server.requests[0]?.headers.authorization).toBe(`Bearer ${OPENAI_LOOPBACK_API_KEY}`);
      expect(server.requests[0]?.body).toEqual({
        model: "gpt-4o-mini",
        messages: [
          { role: "system", content: "You are terse." },
          { role: "user", content: "Tell me about the sea." },
        ],
        max_tokens: 7,
        temperature: 0.5,
        top_p: 0.9,
        stop: ["deep"],
        seed: 42,
        stream: false,
      });
    });

    it("streams with stream_options.include_usage and leaves unset options out", async () => {
      const model = await start();
      await drain(model.stream({ messages }));
      expect(server.requests[0]?.body).toEqual({
        model: "gpt-4o-mini",
        messages,
        stream: true,
        stream_options: { include_usage: true },
      });
    });

    it("asks a reasoning model for max_completion_tokens and sends it no temperature", async () => {
      const model = await start({}, {}, "o4-mini");
      const result = await model.generate({ messages, maxTokens: 5, temperature: 0, topP: 1 });
      expect(result.finishReason).toBe("length");
      expect(server.requests[0]?.body).toEqual({
        model: "o4-mini",
        messages,
        max_completion_tokens: 5,
        stream: false,
      });
    });

    it("rejects maxTokens below 1 as the caller's mistake, without a request", async () => {
      const model = await start();
      await expect(model.generate({ messages, maxTokens: 0 })).rejects.toBeInstanceOf(InvalidRequestError);
      expect(server.requests).toHaveLength(0);
    });
  });

  describe("upstream statuses", () => {
    it.each([500, 502, 503, 429, 408])(
      "%i is retryable and keeps its status, streaming or not",
      async (status) => {
        const model = await start();
        server.enqueueFaults({ kind: "status", status }, { kind: "status", status });
        const { parts, error } = await drain(model.stream({ messages }));
        expect(parts).toEqual([]);
        expect(error).toBeInstanceOf(ProviderError);
        expect(error).toMatchObject({ provider: "openai", isRetryable: true, statusCode: status });
        await expect(model.generate({ messages })).rejects.toMatchObject({
          isRetryable: true,
          statusCode: status,
        });
      },
    );

    it("keeps the delay asked by retry-after (seconds) and retry-after-ms", async () => {
      const model = await start();
      server.enqueueFaults(
        { kind: "status", status: 429, retryAfter: "2" },
        { kind: "status", status: 503, retryAfterMs: "150" },
      );
      await expect(model.generate({ messages })).rejects.toMatchObject({
        statusCode: 429,
        retryAfterMs: 2000,
      });
      const { error } = await drain(model.stream({ messages }));
      expect(error).toMatchObject({ statusCode: 503, retryAfterMs: 150 });
    });

    it.each([400, 401, 403, 404, 422])("%i is not retryable", async (status) => {
      const model = await start();
      server.enqueueFaults({ kind: "status", status });
      const { error } = await drain(model.stream({ messages }));
      expect(error).toBeInstanceOf(ProviderError);
      expect(error).toMatchObject({ isRetryable: false, statusCode: status });
    });

    it("does not retry inside the SDK: a 503 is exactly one request upstream", async () => {
      const model = await start();
      server.enqueueFaults({ kind: "status", status: 503 }, { kind: "reset-before-headers" });
      await expect(model.generate({ messages })).rejects.toMatchObject({ isRetryable: true });
      expect(server.requests).toHaveLength(1);
      await expect(model.generate({ messages })).rejects.toMatchObject({ isRetryable: true });
      expect(server.requests).toHaveLength(2);
    });

    it("reports a wrong API key as a non-retryable 401 whose message holds no key", async () => {
      server = await startOpenAILoopbackServer();
      const wrongKey = "sk-proj-wrongwrongwrong1234";
      const model = createOpenAIProvider({ apiKey: wrongKey, baseURL: server.baseURL }).languageModel(
        "gpt-4o",
      );
      const error = await model.generate({ messages }).catch((caught: unknown) => caught);
      expect(error).toMatchObject({ isRetryable: false, statusCode: 401 });
      expect((error as Error).message).toContain("invalid_api_key");
      expect((error as Error).message).not.toContain("1234");
      expect((error as Error).message).not.toContain("wrongwrong");
    });

    it("reports a prompt too long for the context as the caller's InvalidRequestError", async () => {
      const model = await start({ contextLength: 50 });
      const error = await model.generate({ messages, maxTokens: 100 }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(InvalidRequestError);
      expect(error).toMatchObject({ isRetryable: false, statusCode: 400 });
    });

    it("reports a model the upstream does not serve as a non-retryable 404", async () => {
      const model = await start({}, {}, "gpt-nonexistent");
      await expect(model.generate({ messages })).rejects.toMatchObject({
        isRetryable: false,
        statusCode: 404,
      });
    });
  });

  describe("broken connections and streams", () => {
    it("a reset before the headers is retryable, without a status", async () => {
      const model = await start();
      server.enqueueFaults({ kind: "reset-before-headers" }, { kind: "reset-before-headers" });
      const { error } = await drain(model.stream({ messages }));
      expect(error).toBeInstanceOf(ProviderError);
      expect(error).toMatchObject({ isRetryable: true, statusCode: undefined });
      await expect(model.generate({ messages })).rejects.toMatchObject({
        isRetryable: true,
        statusCode: undefined,
      });
    });

    it("a reset mid-stream yields the chunks sent, then throws a retryable error and never finishes", async () => {
      const model = await start();
      server.enqueueFaults({ kind: "reset-mid-stream", afterChunks: 3 });
      const { parts, error } = await drain(model.stream({ messages }));
      expect(textDeltas(parts)).toBe(3);
      expect(parts.some((part) => part.type === "finish")).toBe(false);
      expect(error).toBeInstanceOf(ProviderError);
      expect(error).toMatchObject({ isRetryable: true, statusCode: undefined });
    });

    it("a reset in the middle of a non-streaming body is retryable", async () => {
      const model = await start();
      server.enqueueFaults({ kind: "reset-mid-stream", afterChunks: 3 });
      await expect(model.generate({ messages })).rejects.toMatchObject({ isRetryable: true });
    });

    it("malformed SSE data is a retryable ProviderError, as is a malformed JSON body", async () => {
      const model = await start();
      server.enqueueFaults({ kind: "malformed-sse" }, { kind: "malformed-sse" });
      const { parts, error } = await drain(model.stream({ messages }));
      expect(parts).toEqual([]);
      expect(error).toBeInstanceOf(ProviderError);
      expect(error).toMatchObject({ isRetryable: true });
      await expect(model.generate({ messages })).rejects.toMatchObject({ isRetryable: true });
    });

    it("a timeout before the response starts is retryable, without a status", async () => {
      const model = await start({}, { timeoutMs: 200 });
      server.enqueueFaults({ kind: "stall-before-first-token" });
      await expect(model.generate({ messages })).rejects.toMatchObject({
        isRetryable: true,
        statusCode: undefined,
      });
    });
  });

  describe("abort", () => {
    it("ends a stream stalled before its first token with cancelled and closes the connection", async () => {
      const model = await start();
      server.enqueueFaults({ kind: "stall-before-first-token" });
      const abort = new AbortController();
      const drained = drain(model.stream({ messages, signal: abort.signal }));
      await vi.waitFor(() => expect(server.requests).toHaveLength(1));
      abort.abort();
      const { parts, error } = await drained;
      expect(error).toBeUndefined();
      expect(parts).toEqual([
        { type: "finish", finishReason: "cancelled", usage: { promptTokens: 0, completionTokens: 0 } },
      ]);
      await vi.waitFor(() => expect(server.requests[0]?.closedByClient).toBe(true));
    });

    it("resolves a generate stalled upstream with empty cancelled text and closes the connection", async () => {
      const model = await start();
      server.enqueueFaults({ kind: "stall-before-first-token" });
      const abort = new AbortController();
      const result = model.generate({ messages, signal: abort.signal });
      await vi.waitFor(() => expect(server.requests).toHaveLength(1));
      abort.abort();
      await expect(result).resolves.toEqual({
        text: "",
        finishReason: "cancelled",
        usage: { promptTokens: 0, completionTokens: 0 },
      });
      await vi.waitFor(() => expect(server.requests[0]?.closedByClient).toBe(true));
    });

    it("counts the chunks received before a mid-stream abort as completion tokens", async () => {
      const model = await start();
      server.enqueueFaults({ kind: "stall-mid-stream", afterChunks: 3 });
      const abort = new AbortController();
      const parts: StreamPart[] = [];
      for await (const part of model.stream({ messages, signal: abort.signal })) {
        parts.push(part);
        if (textDeltas(parts) === 3) abort.abort();
      }
      expect(parts.at(-1)).toEqual({
        type: "finish",
        finishReason: "cancelled",
        usage: { promptTokens: 0, completionTokens: 3 },
      });
      await vi.waitFor(() => expect(server.requests[0]?.closedByClient).toBe(true));
    });

    it("sends nothing for a signal aborted before the call", async () => {
      const model = await start();
      const signal = AbortSignal.abort();
      const { parts } = await drain(model.stream({ messages, signal }));
      expect(parts).toEqual([
        { type: "finish", finishReason: "cancelled", usage: { promptTokens: 0, completionTokens: 0 } },
      ]);
      await expect(model.generate({ messages, signal })).resolves.toMatchObject({
        finishReason: "cancelled",
      });
      expect(server.requests).toHaveLength(0);
    });

    it("closes the upstream connection when the consumer stops reading", async () => {
      const model = await start();
      // The server never finishes this answer, so only the client can close the connection.
      server.enqueueFaults({ kind: "stall-mid-stream", afterChunks: 2 });
      for await (const part of model.stream({ messages })) {
        if (part.type === "text-delta") break;
      }
      await vi.waitFor(() => expect(server.requests[0]?.closedByClient).toBe(true));
    });
  });
});

describe("OpenAI language model against streams only a fake fetch can send", () => {
  const roleChunk = {
    choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }],
  };
  const textChunk = (content: string) => ({
    choices: [{ index: 0, delta: { content }, finish_reason: null }],
  });
  const finishChunk = { choices: [{ index: 0, delta: {}, finish_reason: "stop" }] };

  function modelAnswering(events: unknown[]): LanguageModel {
    const body = events.map(
      (event) => `data: ${typeof event === "string" ? event : JSON.stringify(event)}\n\n`,
    );
    const fetch: typeof globalThis.fetch = async () =>
      new Response(body.join(""), { headers: { "content-type": "text/event-stream" } });
    return createOpenAIProvider({ apiKey: "sk-fake-0000000000", fetch }).languageModel("gpt-4o-mini");
  }

  it("throws a retryable error for a stream that ends cleanly without a finish reason", async () => {
    const model = modelAnswering([roleChunk, textChunk("The"), textChunk(" sea"), "[DONE]"]);
    const { parts, error } = await drain(model.stream({ messages }));
    expect(textDeltas(parts)).toBe(2);
    expect(parts.some((part) => part.type === "finish")).toBe(false);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ isRetryable: true });
  });

  it("finishes with usage estimated from chunks when a server sends no usage chunk", async () => {
    const model = modelAnswering([roleChunk, textChunk("The"), textChunk(" sea"), finishChunk, "[DONE]"]);
    const { parts, error } = await drain(model.stream({ messages }));
    expect(error).toBeUndefined();
    expect(parts.at(-1)).toEqual({
      type: "finish",
      finishReason: "stop",
      usage: { promptTokens: 0, completionTokens: 2 },
    });
  });

  it("maps an error event inside the stream to a retryable ProviderError", async () => {
    const model = modelAnswering([
      roleChunk,
      textChunk("The"),
      { error: { message: "The server had an error", type: "server_error", param: null, code: null } },
    ]);
    const { parts, error } = await drain(model.stream({ messages }));
    expect(textDeltas(parts)).toBe(1);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ isRetryable: true, statusCode: undefined });
  });
});
