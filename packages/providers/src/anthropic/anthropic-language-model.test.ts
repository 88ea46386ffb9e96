import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { InvalidRequestError } from "../errors/invalid-request-error.js";
import { ProviderError } from "../errors/provider-error.js";
import type { CallOptions, LanguageModel, Provider, StreamPart, Usage } from "../language-model.js";
import type { Logger } from "../logger.js";
import { describeLanguageModelContract } from "../testing/language-model-contract.js";
import { scriptedAnswer } from "../testing/loopback-fault.js";
import {
  type AnthropicLoopbackServer,
  startAnthropicLoopbackServer,
} from "./__fixtures__/anthropic-loopback-server.js";
import { DEFAULT_ANTHROPIC_MAX_TOKENS } from "./anthropic-language-model.js";
import { type AnthropicProviderOptions, createAnthropicProvider } from "./anthropic-provider.js";

describeLanguageModelContract("anthropic", async () => {
  const server = await startAnthropicLoopbackServer();
  const provider = createAnthropicProvider({ apiKey: server.apiKey, baseURL: server.baseURL });
  return {
    model: provider.languageModel("claude-loopback"),
    async assertStoppedAfterAbort() {
      await vi.waitFor(() => expect(server.requests.at(-1)?.closedByClient).toBe(true));
    },
    async close() {
      await provider.close();
      await server.close();
    },
  };
});

const messages: CallOptions["messages"] = [
  { role: "system", content: "You are terse." },
  { role: "user", content: "Tell me about the sea." },
];

const fullAnswer = scriptedAnswer({ maxTokens: 1000, stop: [] }).chunks;

async function collect(stream: AsyncIterable<StreamPart>): Promise<StreamPart[]> {
  const parts: StreamPart[] = [];
  for await (const part of stream) parts.push(part);
  return parts;
}

/** Runs `work` and returns what it threw, failing the test if it did not throw. */
async function thrown(work: () => Promise<unknown>): Promise<ProviderError> {
  try {
    await work();
  } catch (error) {
    expect(error).toBeInstanceOf(ProviderError);
    return error as ProviderError;
  }
  throw new Error("expected a ProviderError");
}

describe("anthropic language model against the loopback API", () => {
  let server: AnthropicLoopbackServer;
  let provider: Provider;
  let model: LanguageModel;
  const logger: Logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };

  function connect(options: Partial<AnthropicProviderOptions> = {}): LanguageModel {
    provider = createAnthropicProvider({
      apiKey: server.apiKey,
      baseURL: server.baseURL,
      logger,
      ...options,
    });
    return provider.languageModel("claude-loopback");
  }

  beforeEach(async () => {
    vi.clearAllMocks();
    server = await startAnthropicLoopbackServer();
    model = connect();
  });
  afterEach(async () => {
    await provider.close();
    await server.close();
  });

  it("sends system top-level, the default max_tokens, stop_sequences and stream, and no sampling parameters", async () => {
    const result = await model.generate({ messages, temperature: 0.5, topP: 0.9, seed: 1, stop: ["deep"] });
    expect(result).toEqual({
      text: "The sea is vast and ",
      finishReason: "stop",
      usage: { promptTokens: 8, completionTokens: 6 },
    });
    const [request] = server.requests;
    expect(request?.body).toEqual({
      model: "claude-loopback",
      max_tokens: DEFAULT_ANTHROPIC_MAX_TOKENS,
      system: "You are terse.",
      messages: [{ role: "user", content: "Tell me about the sea." }],
      stop_sequences: ["deep"],
      stream: true,
    });
    expect(request?.headers.authorization).toBe(`Bearer ${server.apiKey}`);
    expect(request?.headers["anthropic-version"]).toEqual(expect.any(String));
  });

  it("uses the configured default max_tokens and reports the usage Anthropic counted", async () => {
    model = connect({ defaultMaxTokens: 5 });
    const result = await model.generate({ messages });
    expect(server.requests[0]?.body).toMatchObject({ max_tokens: 5 });
    expect(result).toEqual({
      text: fullAnswer.slice(0, 5).join(""),
      finishReason: "length",
      usage: { promptTokens: 8, completionTokens: 5 },
    });
  });

  it("rejects a max token count Anthropic cannot take before sending anything", async () => {
    await expect(model.generate({ messages, maxTokens: 0 })).rejects.toBeInstanceOf(InvalidRequestError);
    expect(server.requests).toHaveLength(0);
  });

  it.each([500, 503, 529, 429])("makes status %i a retryable error with its status code", async (status) => {
    server.enqueueFaults({ kind: "status", status });
    const error = await thrown(() => collect(model.stream({ messages })));
    expect(error).toMatchObject({ provider: "anthropic", statusCode: status, isRetryable: true });
  });

  it("honours retry-after and retry-after-ms", async () => {
    server.enqueueFaults(
      { kind: "status", status: 529, retryAfter: "2" },
      { kind: "status", status: 429, retryAfterMs: "150" },
    );
    expect((await thrown(() => model.generate({ messages }))).retryAfterMs).toBe(2000);
    expect((await thrown(() => model.generate({ messages }))).retryAfterMs).toBe(150);
  });

  it("does not retry a 400 (the caller's InvalidRequestError) or a 401", async () => {
    server.enqueueFaults({ kind: "status", status: 400 }, { kind: "status", status: 401 });
    const invalid = await thrown(() => model.generate({ messages }));
    expect(invalid).toBeInstanceOf(InvalidRequestError);
    expect(invalid.isRetryable).toBe(false);
    const unauthorized = await thrown(() => model.generate({ messages }));
    expect(unauthorized).not.toBeInstanceOf(InvalidRequestError);
    expect(unauthorized).toMatchObject({ statusCode: 401, isRetryable: false });
  });

  it("keeps a rejected API key out of the error message", async () => {
    const apiKey = "sk-ant-wrong-key-must-not-leak";
    model = connect({ apiKey });
    const error = await thrown(() => model.generate({ messages }));
    expect(error).toMatchObject({ statusCode: 401, isRetryable: false });
    expect(error.message).not.toContain(apiKey);
    expect(String((error.cause as Error).message)).not.toContain(apiKey);
  });

  it("makes a connection reset before the headers retryable without a status", async () => {
    server.enqueueFaults({ kind: "reset-before-headers" });
    const error = await thrown(() => model.generate({ messages }));
    expect(error).toMatchObject({ statusCode: undefined, isRetryable: true });
  });

  it("yields the first chunks of a stream reset mid-way, then throws a retryable error, never a finish", async () => {
    server.enqueueFaults({ kind: "reset-mid-stream", afterChunks: 2 });
    const parts: StreamPart[] = [];
    const counted: Usage[] = [];
    const error = await thrown(async () => {
      for await (const part of model.stream({
        messages,
        maxTokens: 20,
        onUsage: (usage) => counted.push(usage),
      }))
        parts.push(part);
    });
    expect(error).toMatchObject({ statusCode: undefined, isRetryable: true });
    expect(parts).toEqual(fullAnswer.slice(0, 2).map((text) => ({ type: "text-delta", text })));
    // message_start told the prompt's size before the cut: the caller can still record it.
    expect(counted.at(-1)?.promptTokens).toBeGreaterThan(0);
  });

  it("makes a stream whose body ends cleanly before message_stop a retryable error", async () => {
    // A proxy that drops the end of the stream but closes the body properly.
    const truncatingFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      const text = await response.text();
      return new Response(text.slice(0, text.indexOf("event: message_delta")), {
        status: response.status,
        headers: response.headers,
      });
    };
    model = connect({ fetch: truncatingFetch });
    const parts: StreamPart[] = [];
    const error = await thrown(async () => {
      for await (const part of model.stream({ messages, maxTokens: 3 })) parts.push(part);
    });
    expect(error.isRetryable).toBe(true);
    expect(parts.map((part) => part.type)).toEqual(["text-delta", "text-delta", "text-delta"]);
  });

  it("makes malformed SSE retryable and hands the SDK's complaint to the logger", async () => {
    server.enqueueFaults({ kind: "malformed-sse" });
    const error = await thrown(() => model.generate({ messages }));
    expect(error).toMatchObject({ statusCode: undefined, isRetryable: true });
    expect(logger.error).toHaveBeenCalled();
  });

  it("makes an overloaded_error event inside the stream retryable, after the text sent before it", async () => {
    server.enqueueStreamErrors({ afterChunks: 1, errorType: "overloaded_error" });
    const parts: StreamPart[] = [];
    const error = await thrown(async () => {
      for await (const part of model.stream({ messages })) parts.push(part);
    });
    expect(error).toMatchObject({ statusCode: undefined, isRetryable: true });
    expect(parts).toEqual([{ type: "text-delta", text: fullAnswer[0] }]);
  });

  it("sends one request per call: the SDK's own retries are off", async () => {
    server.enqueueFaults({ kind: "status", status: 503 }, { kind: "reset-before-headers" });
    await thrown(() => model.generate({ messages }));
    expect(server.requests).toHaveLength(1);
    await thrown(() => model.generate({ messages }));
    expect(server.requests).toHaveLength(2);
  });

  it("makes a response that takes longer than timeoutMs a retryable error", async () => {
    const neverAnswers: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener("abort", () => reject(init.signal?.reason));
      });
    model = connect({ fetch: neverAnswers, timeoutMs: 20 });
    const error = await thrown(() => model.generate({ messages }));
    expect(error).toMatchObject({ statusCode: undefined, isRetryable: true });
  });

  it("ends a stream stalled before its first token with finish cancelled when aborted, closing the connection", async () => {
    server.enqueueFaults({ kind: "stall-before-first-token" });
    const abort = new AbortController();
    const parts = collect(model.stream({ messages, signal: abort.signal }));
    await vi.waitFor(() => expect(server.requests).toHaveLength(1));
    abort.abort();
    const [finish, ...rest] = await parts;
    expect(rest).toHaveLength(0);
    expect(finish).toMatchObject({ type: "finish", finishReason: "cancelled" });
    await vi.waitFor(() => expect(server.requests[0]?.closedByClient).toBe(true));
  });

  it("resolves generate with the partial text when aborted mid-stream", async () => {
    server.enqueueFaults({ kind: "stall-mid-stream", afterChunks: 3 });
    const abort = new AbortController();
    const result = model.generate({ messages, signal: abort.signal });
    await vi.waitFor(() => expect(server.requests[0]?.chunksSent).toBe(3));
    abort.abort();
    const { text, finishReason, usage } = await result;
    expect(finishReason).toBe("cancelled");
    expect(fullAnswer.slice(0, 3).join("").startsWith(text)).toBe(true);
    expect(usage.promptTokens).toBe(8);
    expect(usage.completionTokens).toBeLessThanOrEqual(3);
    await vi.waitFor(() => expect(server.requests[0]?.closedByClient).toBe(true));
  });

  it("ends at once with finish cancelled when the signal is already aborted", async () => {
    const parts = await collect(model.stream({ messages, signal: AbortSignal.abort() }));
    expect(parts).toEqual([
      { type: "finish", finishReason: "cancelled", usage: { promptTokens: 0, completionTokens: 0 } },
    ]);
    expect(server.requests).toHaveLength(0);
  });

  it("closes the upstream connection when the consumer stops reading", async () => {
    for await (const part of model.stream({ messages, maxTokens: 30 })) {
      if (part.type === "text-delta") break;
    }
    await vi.waitFor(() => expect(server.requests[0]?.closedByClient).toBe(true));
  });
});

describe("createAnthropicProvider", () => {
  it("lists the configured models as anthropic/<id>, chat and streaming, always loaded", async () => {
    const provider = createAnthropicProvider({ apiKey: "k", models: ["claude-a", "claude-b"] });
    expect(provider.id).toBe("anthropic");
    expect(await provider.listModels()).toEqual([
      {
        id: "anthropic/claude-a",
        provider: "anthropic",
        capabilities: ["chat", "streaming"],
        contextLength: 0,
        loaded: true,
      },
      {
        id: "anthropic/claude-b",
        provider: "anthropic",
        capabilities: ["chat", "streaming"],
        contextLength: 0,
        loaded: true,
      },
    ]);
  });

  it("lists well-known models by default and serves any model id", async () => {
    const provider = createAnthropicProvider({ apiKey: "k" });
    expect((await provider.listModels()).length).toBeGreaterThan(0);
    expect(provider.languageModel("claude-not-listed")).toMatchObject({
      provider: "anthropic",
      modelId: "claude-not-listed",
    });
  });

  it("fails at startup without an API key", () => {
    expect(() => createAnthropicProvider({ apiKey: "" })).toThrow(/apiKey/);
  });
});
