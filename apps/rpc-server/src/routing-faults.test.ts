import { randomUUID } from "node:crypto";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createPriceTable } from "@noa/access";
import { CircuitState, InferenceService, ModelService, Role, type StreamCompleteResponse } from "@noa/proto";
import { createAnthropicProvider, createOpenAIProvider } from "@noa/providers";
import {
  ANTHROPIC_LOOPBACK_API_KEY,
  type LoopbackFault,
  type LoopbackServer,
  OPENAI_LOOPBACK_API_KEY,
  startAnthropicLoopbackServer,
  startOpenAILoopbackServer,
} from "@noa/providers/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { startTestServer, type TestServer } from "./__fixtures__/start-test-server.js";

// The fault matrix of issue 3, through the real rpc-server and a real gRPC client: route `default` is
// [openai (loopback, faults injected), anthropic (loopback, healthy)].
const primary = "openai/gpt-4o-mini";
const secondary = "anthropic/claude-haiku-5-5";
const messages = [{ role: Role.USER, content: "Tell me about the sea." }];

let openai: LoopbackServer;
let anthropic: LoopbackServer;
let server: TestServer | undefined;

beforeAll(async () => {
  openai = await startOpenAILoopbackServer();
  anthropic = await startAnthropicLoopbackServer();
});
afterAll(async () => {
  await Promise.all([openai?.close(), anthropic?.close()]);
});
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A fresh server (so breakers start closed) and counters of what each vendor saw from now on. */
async function start(routing: object = {}) {
  server = await startTestServer({
    providers: [
      createOpenAIProvider({ apiKey: OPENAI_LOOPBACK_API_KEY, baseURL: openai.baseURL }),
      createAnthropicProvider({ apiKey: ANTHROPIC_LOOPBACK_API_KEY, baseURL: anthropic.baseURL }),
    ],
    routing: {
      routes: { default: [primary, secondary] },
      retry: { maxAttempts: 2, baseDelayMs: 1, maxRetryDelayMs: 5_000 },
      circuitBreaker: { failureThreshold: 3, cooldownMs: 60_000 },
      timeouts: { firstTokenMs: 300, totalMs: 1_000 },
      ...routing,
    },
  });
  const transport = createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [server.auth] });
  const seen = { openai: openai.requests.length, anthropic: anthropic.requests.length };
  return {
    inference: createClient(InferenceService, transport),
    models: createClient(ModelService, transport),
    openaiRequests: () => openai.requests.slice(seen.openai),
    anthropicRequests: () => anthropic.requests.slice(seen.anthropic),
  };
}

async function drain(stream: AsyncIterable<StreamCompleteResponse>) {
  const received: StreamCompleteResponse[] = [];
  try {
    for await (const message of stream) received.push(message);
    return { received, error: undefined };
  } catch (error) {
    return { received, error: ConnectError.from(error) };
  }
}

type Expectation =
  | { outcome: "fallback"; openaiCalls: number }
  | { outcome: "error"; code: Code; message: RegExp; openaiCalls: number; tokensBeforeError: number };

const matrix: Array<[string, LoopbackFault, Expectation]> = [
  ["500", { kind: "status", status: 500 }, { outcome: "fallback", openaiCalls: 2 }],
  ["503", { kind: "status", status: 503 }, { outcome: "fallback", openaiCalls: 2 }],
  [
    "429 with Retry-After",
    { kind: "status", status: 429, retryAfter: "0" },
    { outcome: "fallback", openaiCalls: 2 },
  ],
  [
    "connection reset before headers",
    { kind: "reset-before-headers" },
    { outcome: "fallback", openaiCalls: 2 },
  ],
  [
    "stall before the first token (TTFT timeout)",
    { kind: "stall-before-first-token" },
    { outcome: "fallback", openaiCalls: 2 },
  ],
  ["malformed SSE", { kind: "malformed-sse" }, { outcome: "fallback", openaiCalls: 2 }],
  [
    "reset mid-stream",
    { kind: "reset-mid-stream", afterChunks: 2 },
    {
      outcome: "error",
      code: Code.Unavailable,
      message: /cut after 2 tokens/,
      openaiCalls: 1,
      tokensBeforeError: 2,
    },
  ],
  [
    "stall mid-stream (total timeout)",
    { kind: "stall-mid-stream", afterChunks: 2 },
    {
      outcome: "error",
      code: Code.Unavailable,
      message: /cut after 2 tokens/,
      openaiCalls: 1,
      tokensBeforeError: 2,
    },
  ],
  [
    "400",
    { kind: "status", status: 400 },
    {
      outcome: "error",
      code: Code.InvalidArgument,
      message: /refused the request \(HTTP 400\)/,
      openaiCalls: 1,
      tokensBeforeError: 0,
    },
  ],
  // NOA's own OpenAI key refused: not retried, but Anthropic may hold a working key.
  ["401", { kind: "status", status: 401 }, { outcome: "fallback", openaiCalls: 1 }],
  ["403", { kind: "status", status: 403 }, { outcome: "fallback", openaiCalls: 1 }],
];

describe.each(matrix)("OpenAI answers with %s", (_name, fault, expected) => {
  it("the client sees the expected retries, fallback and code", async () => {
    const { inference, openaiRequests, anthropicRequests } = await start();
    openai.enqueueFaults(...Array.from({ length: expected.openaiCalls }, () => fault));
    const { received, error } = await drain(
      inference.streamComplete({ model: "default", messages, maxTokens: 8 }),
    );
    expect(openaiRequests()).toHaveLength(expected.openaiCalls);
    if (expected.outcome === "fallback") {
      expect(error).toBeUndefined();
      const last = received.at(-1);
      expect(last?.provider).toBe("anthropic");
      expect(last?.model).toBe(secondary);
      expect(last?.attempts).toBe(expected.openaiCalls + 1);
      expect(anthropicRequests()).toHaveLength(1);
    } else {
      expect(error?.code).toBe(expected.code);
      expect(error?.rawMessage).toMatch(expected.message);
      expect(received.filter((message) => message.text)).toHaveLength(expected.tokensBeforeError);
      expect(received.some((message) => message.finishReason)).toBe(false);
      expect(anthropicRequests()).toHaveLength(0);
    }
  });
});

describe("the ledger of a stream cut mid-way", () => {
  it("records the provider and model that served, the tokens delivered and their cost", async () => {
    const { inference } = await start();
    openai.enqueueFaults({ kind: "reset-mid-stream", afterChunks: 2 });
    const correlationId = randomUUID();
    const { received, error } = await drain(
      inference.streamComplete(
        { model: "default", messages, maxTokens: 8 },
        { headers: { "x-correlation-id": correlationId } },
      ),
    );
    expect(error?.code).toBe(Code.Unavailable);
    expect(received.filter((message) => message.text)).toHaveLength(2);
    const recordOf = () =>
      server?.access.usageRecords().find((record) => record.correlationId === correlationId);
    await vi.waitFor(() => expect(recordOf()).toBeDefined());
    expect(recordOf()).toMatchObject({
      status: "error",
      provider: "openai",
      modelServed: primary,
      completionTokens: 2,
    });
    expect(recordOf()?.costUsd).toBeGreaterThan(0);
  });
});

describe("circuit breaker", () => {
  it("opens after repeated failures, then skips OpenAI without calling it, visible through ModelService", async () => {
    const { inference, models, openaiRequests } = await start();
    openai.enqueueFaults(
      ...Array.from({ length: 6 }, (): LoopbackFault => ({ kind: "status", status: 503 })),
    );
    for (let i = 0; i < 3; i++) {
      const { error } = await drain(inference.streamComplete({ model: "default", messages, maxTokens: 4 }));
      expect(error).toBeUndefined();
    }
    expect(openaiRequests()).toHaveLength(6);
    const { model } = await models.getModel({ id: primary });
    expect(model?.circuitState).toBe(CircuitState.OPEN);
    expect(Number(model?.circuitRetryTime?.seconds)).toBeGreaterThan(Date.now() / 1000);

    const { received } = await drain(inference.streamComplete({ model: "default", messages, maxTokens: 4 }));
    expect(openaiRequests()).toHaveLength(6);
    expect(received.at(-1)?.provider).toBe("anthropic");
    expect(
      server?.logs.some((line) => line.msg === "circuit breaker changed state" && line.state === "open"),
    ).toBe(true);
    const scraped = await (await fetch(`${server?.baseUrl}/metrics`)).text();
    expect(scraped).toContain(`noa_circuit_breaker_state{target="${primary}"} 2`);
    expect(scraped).toContain(`noa_circuit_breaker_state{target="${secondary}"} 0`);
  });

  it("is not tripped by the caller's errors (400, 401)", async () => {
    const { inference, models } = await start();
    for (const status of [400, 401, 400, 401]) {
      openai.enqueueFaults({ kind: "status", status });
      await drain(inference.streamComplete({ model: "default", messages, maxTokens: 4 }));
    }
    const { model } = await models.getModel({ id: primary });
    expect(model?.circuitState).toBe(CircuitState.CLOSED);
  });
});

describe("fallback and cancellation", () => {
  it("answers `default` from Anthropic when OpenAI keeps failing, and says so", async () => {
    const { inference, openaiRequests } = await start();
    // Two tries of OpenAI (maxAttempts 2), both failing; every enqueued fault is used up.
    openai.enqueueFaults({ kind: "status", status: 500 }, { kind: "status", status: 500 });
    const response = await inference.complete({ model: "default", messages, maxTokens: 6 });
    expect(openaiRequests()).toHaveLength(2);
    expect(response.provider).toBe("anthropic");
    expect(response.model).toBe(secondary);
    // Priced as the model that served, not the alias that was asked for.
    expect(response.costUsd).toBeGreaterThan(0);
    expect(response.costUsd).toBe(
      createPriceTable().costOf(secondary, {
        promptTokens: response.usage?.promptTokens ?? 0,
        completionTokens: response.usage?.completionTokens ?? 0,
      }),
    );
    expect(response.text.length).toBeGreaterThan(0);
    const { model } = await start().then(({ models }) => models.getModel({ id: "default" }));
    expect(model?.targets).toEqual([primary, secondary]);
  });

  it("closes the upstream connection when the client cancels a stream served by OpenAI", async () => {
    const { inference, openaiRequests } = await start({ timeouts: {} });
    const abort = new AbortController();
    let received = 0;
    const outcome = await (async () => {
      for await (const _ of inference.streamComplete(
        { model: primary, messages, maxTokens: 400 },
        { signal: abort.signal },
      )) {
        if (++received === 2) abort.abort();
      }
    })().catch((error: unknown) => ConnectError.from(error));
    // What the client itself reports for its own abort races the server's reset (canceled or unavailable);
    // what matters is that the call did not end as a finished answer.
    expect(outcome).toBeInstanceOf(Error);
    await vi.waitFor(() => expect(openaiRequests().at(-1)?.closedByClient).toBe(true));
    expect(openaiRequests().at(-1)?.chunksSent).toBeLessThan(50);
  });
});
