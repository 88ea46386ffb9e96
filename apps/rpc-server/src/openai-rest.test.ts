import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ApiKeyService, Scope } from "@noa/proto";
import { createAnthropicProvider, createOpenAIProvider } from "@noa/providers";
import {
  ANTHROPIC_LOOPBACK_API_KEY,
  type LoopbackServer,
  OPENAI_LOOPBACK_API_KEY,
  startAnthropicLoopbackServer,
  startOpenAILoopbackServer,
} from "@noa/providers/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startTestServer, type TestServer } from "./__fixtures__/start-test-server.js";

// Issue 5's acceptance: the official openai SDK (and raw fetch for what an SDK never sends) against a real
// server on port 0, served by the tiny llama.cpp model and by the loopback OpenAI and Anthropic servers.
const origin = "https://app.example.com";
const maxBodyBytes = 64 * 1024;
const user = (content: string) => [{ role: "user" as const, content }];

let openaiUpstream: LoopbackServer;
let anthropicUpstream: LoopbackServer;
let server: TestServer;
let client: OpenAI;

beforeAll(async () => {
  // Chunks 10 ms apart, so a client's abort lands well before the answer's end.
  openaiUpstream = await startOpenAILoopbackServer({ chunkDelayMs: 10 });
  anthropicUpstream = await startAnthropicLoopbackServer();
  server = await startTestServer({
    providers: [
      createOpenAIProvider({ apiKey: OPENAI_LOOPBACK_API_KEY, baseURL: openaiUpstream.baseURL }),
      createAnthropicProvider({ apiKey: ANTHROPIC_LOOPBACK_API_KEY, baseURL: anthropicUpstream.baseURL }),
    ],
    routing: {
      routes: { default: ["openai/gpt-4o-mini", "anthropic/claude-haiku-5-5"] },
      retry: { maxAttempts: 2, baseDelayMs: 1 },
      // High enough that the fault cases never open a breaker for the tests after them.
      circuitBreaker: { failureThreshold: 100 },
    },
    http: { corsOrigins: [origin], maxBodyBytes },
  });
  client = sdk(server.adminKey);
});
afterAll(async () => {
  await server?.close();
  await Promise.all([openaiUpstream?.close(), anthropicUpstream?.close()]);
});

/** The openai SDK pointed at NOA, its own retries off so each call is one request. */
function sdk(apiKey: string): OpenAI {
  return new OpenAI({ baseURL: `${server.baseUrl}/v1`, apiKey, maxRetries: 0 });
}

async function newKey(input: {
  scopes?: Scope[];
  allowedModels?: string[];
  rateLimit?: { requestBurst?: number; requestsPerSecond?: number };
}): Promise<string> {
  const keys = createClient(
    ApiKeyService,
    createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [server.auth] }),
  );
  const created = await keys.createApiKey({
    name: "rest",
    tenant: "acme",
    scopes: [Scope.INFERENCE],
    ...input,
  });
  return created.key;
}

async function errorOf(call: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await call;
  } catch (error) {
    if (error instanceof OpenAI.APIError) return error;
    throw error;
  }
  throw new Error("the call should have failed");
}

function post(path: string, body: string | object, headers: Record<string, string> = {}) {
  return fetch(`${server.baseUrl}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${server.adminKey}`, "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** The `data:` payloads of an SSE body, in order. */
function events(body: string): string[] {
  return body
    .split("\n\n")
    .filter((event) => event.startsWith("data: "))
    .map((event) => event.slice("data: ".length));
}

describe("chat completions through the openai SDK", () => {
  it("answers from the local llama.cpp model with OpenAI's object, usage and the correlation id", async () => {
    const { data, response } = await client.chat.completions
      .create(
        { model: server.modelId, messages: user("Hello"), max_tokens: 6, temperature: 0 },
        { headers: { "x-correlation-id": "rest-chat-1" } },
      )
      .withResponse();
    expect(data).toMatchObject({
      id: "chatcmpl-rest-chat-1",
      object: "chat.completion",
      model: server.modelId,
      system_fingerprint: null,
      choices: [{ index: 0, message: { role: "assistant" }, finish_reason: "length" }],
      usage: { completion_tokens: 6 },
    });
    expect(data.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(data.usage?.total_tokens).toBe((data.usage?.prompt_tokens ?? 0) + 6);
    expect(Math.abs(data.created - Date.now() / 1000)).toBeLessThan(120);
    expect(response.headers.get("x-correlation-id")).toBe("rest-chat-1");
    expect(response.headers.get("x-request-id")).toBe("rest-chat-1");
    // One usage record per call, written by the completion service, not twice by two faces.
    await vi.waitFor(() =>
      expect(server.access.usageRecords().filter((r) => r.correlationId === "rest-chat-1")).toHaveLength(1),
    );
    const line = server.logs.find((l) => l.msg === "rest" && l.correlationId === "rest-chat-1");
    expect(line).toMatchObject({
      method: "POST",
      route: "/v1/chat/completions",
      status: 200,
      model: server.modelId,
      provider: "llama-cpp",
      attempts: 1,
      completionTokens: 6,
    });
  });

  it("answers from the OpenAI loopback and names the model that served an alias", async () => {
    const direct = await client.chat.completions.create({
      model: "openai/gpt-4o-mini",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: [{ type: "text", text: "Tell me about the sea." }] },
      ],
      max_completion_tokens: 5,
      stop: ["blue"],
    });
    expect(direct.choices[0]?.message.content).toBe("The sea is vast and");
    expect(direct.model).toBe("openai/gpt-4o-mini");
    expect(openaiUpstream.requests.at(-1)?.body).toMatchObject({ model: "gpt-4o-mini", max_tokens: 5 });

    openaiUpstream.enqueueFaults({ kind: "status", status: 503 }, { kind: "status", status: 503 });
    const fallback = await client.chat.completions.create({
      model: "default",
      messages: user("Hi"),
      max_tokens: 4,
    });
    expect(fallback.model).toBe("anthropic/claude-haiku-5-5");
    expect(fallback.choices[0]?.message.content?.length).toBeGreaterThan(0);
  });

  it("streams chunks in OpenAI's format: role first, deltas, finish, usage, then [DONE]", async () => {
    const stream = await client.chat.completions.create({
      model: server.modelId,
      messages: user("Tell me a story"),
      max_tokens: 8,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const [first, ...rest] = chunks;
    expect(first?.choices[0]?.delta).toEqual({ role: "assistant", content: "", refusal: null });
    const usageChunk = rest.at(-1);
    const finishChunk = rest.at(-2);
    const deltas = rest.slice(0, -2);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.every((chunk) => chunk.choices[0]?.finish_reason === null && chunk.usage === null)).toBe(
      true,
    );
    expect(finishChunk?.choices).toEqual([{ index: 0, delta: {}, logprobs: null, finish_reason: "length" }]);
    expect(usageChunk?.choices).toEqual([]);
    expect(usageChunk?.usage?.completion_tokens).toBe(8);
    expect(chunks.every((chunk) => chunk.object === "chat.completion.chunk" && chunk.id === first?.id)).toBe(
      true,
    );
  });

  it("streams from the Anthropic loopback without a usage chunk unless asked", async () => {
    const stream = await client.chat.completions.create({
      model: "anthropic/claude-haiku-5-5",
      messages: user("Tell me about the sea."),
      max_tokens: 4,
      stream: true,
    });
    let text = "";
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      expect(chunk).not.toHaveProperty("usage");
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe("The sea is vast");
    expect(finish).toBe("length");
  });
});

describe("legacy completions and models", () => {
  it("completes a prompt, whole and streamed", async () => {
    const whole = await client.completions.create({
      model: "openai/gpt-4o-mini",
      prompt: "Tell me about the sea.",
      max_tokens: 3,
      echo: true,
    });
    expect(whole).toMatchObject({ object: "text_completion", model: "openai/gpt-4o-mini" });
    expect(whole.choices[0]?.text).toBe("Tell me about the sea.The sea is");
    expect(whole.choices[0]?.finish_reason).toBe("length");

    const stream = await client.completions.create({
      model: server.modelId,
      prompt: "Once upon a time",
      max_tokens: 5,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? "";
      usage = chunk.usage ?? usage;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(usage?.completion_tokens).toBe(5);
  });

  it("lists models and aliases and retrieves one whose id holds a slash", async () => {
    const ids = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toEqual(expect.arrayContaining([server.modelId, "openai/gpt-4o-mini", "default"]));
    const model = await client.models.retrieve(server.modelId);
    expect(model).toMatchObject({ id: server.modelId, object: "model", owned_by: "llama-cpp" });
    const raw = await fetch(`${server.baseUrl}/v1/models/${server.modelId}`, {
      headers: { authorization: `Bearer ${server.adminKey}` },
    });
    expect(await raw.json()).toMatchObject({ id: server.modelId });
  });

  it("lists only the models a key may use", async () => {
    const openaiOnly = sdk(await newKey({ scopes: [Scope.MODELS_READ], allowedModels: ["openai/*"] }));
    const ids = [];
    for await (const model of openaiOnly.models.list()) ids.push(model.id);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.every((id) => id.startsWith("openai/"))).toBe(true);
    expect(await errorOf(openaiOnly.models.retrieve(server.modelId))).toBeInstanceOf(
      OpenAI.PermissionDeniedError,
    );
  });
});

describe("errors in OpenAI's shape", () => {
  it("maps a bad key, a missing scope, an unknown model and bad parameters to the SDK's classes", async () => {
    const badKey = await errorOf(sdk("noa_nope_nope").models.list());
    expect(badKey).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(badKey.message).toMatch(/correlation id: /);

    const inferenceOnly = await newKey({ scopes: [Scope.INFERENCE] });
    const noScope = await errorOf(sdk(inferenceOnly).models.list());
    expect(noScope).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(noScope.message).toMatch(/lacks the "models:read" scope/);

    const unknown = await errorOf(
      client.chat.completions.create({ model: "llama-cpp/nope", messages: user("Hi") }),
    );
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
    expect(unknown.code).toBe("model_not_found");
    expect(unknown.message).toMatch(/GET \/v1\/models/);
    expect((await errorOf(client.models.retrieve("llama-cpp/nope"))).status).toBe(404);
    // An OpenAI-compatible upstream names its models itself: its own 404 is the caller's unknown model too.
    const unknownUpstream = await errorOf(
      client.chat.completions.create({ model: "openai/gpt-nonexistent", messages: user("Hi") }),
    );
    expect(unknownUpstream).toBeInstanceOf(OpenAI.NotFoundError);
    expect(unknownUpstream.code).toBe("model_not_found");
    expect(unknownUpstream.message).toMatch(/does not serve this model.*GET \/v1\/models/);

    const tooHot = await errorOf(
      client.chat.completions.create({ model: server.modelId, messages: user("Hi"), temperature: 3 }),
    );
    expect(tooHot).toBeInstanceOf(OpenAI.BadRequestError);
    expect(tooHot.message).toMatch(/temperature must be between 0 and 2 \(got 3\)/);
    expect(tooHot.param).toBe("temperature");

    const twoChoices = await errorOf(
      client.chat.completions.create({ model: server.modelId, messages: user("Hi"), n: 2 }),
    );
    expect(twoChoices).toBeInstanceOf(OpenAI.BadRequestError);
    expect(twoChoices.message).toMatch(/n must be 1 \(got 2\)/);

    // OpenAI's code for a prompt beyond the context window, which clients look for.
    const long = "hello ".repeat(5000);
    const tooLong = await errorOf(
      client.chat.completions.create({ model: server.modelId, messages: user(long), max_tokens: 5 }),
    );
    expect(tooLong).toBeInstanceOf(OpenAI.BadRequestError);
    expect(tooLong).toMatchObject({ code: "context_length_exceeded", param: "messages" });
    expect(tooLong.message).toMatch(/has a context of \d+ tokens for prompt and answer/);
    const tooLongPrompt = await errorOf(
      client.completions.create({ model: server.modelId, prompt: long, max_tokens: 5 }),
    );
    expect(tooLongPrompt).toMatchObject({ code: "context_length_exceeded", param: "prompt" });
  });

  it("refuses a key past its rate limit with 429, Retry-After and retry-after-ms", async () => {
    const limited = sdk(await newKey({ rateLimit: { requestBurst: 1, requestsPerSecond: 0.001 } }));
    const { response } = await limited.chat.completions
      .create({ model: "openai/gpt-4o-mini", messages: user("Hi"), max_tokens: 1 })
      .withResponse();
    // The admitted call says where the key's bucket stands, under OpenAI's header names.
    expect(response.headers.get("x-ratelimit-limit-requests")).toBe("1");
    expect(response.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    expect(response.headers.get("x-ratelimit-reset-requests")).toMatch(/^\d+s$/);
    const refused = await errorOf(
      limited.chat.completions.create({ model: "openai/gpt-4o-mini", messages: user("Hi"), max_tokens: 1 }),
    );
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    expect(Number(refused.headers?.get("retry-after"))).toBeGreaterThan(60);
    expect(Number(refused.headers?.get("retry-after-ms"))).toBeGreaterThan(60_000);
    expect(refused.message).toMatch(/rate limit of this key reached/);
  });

  it("answers a provider failure before the first chunk with 502 and a JSON body, even when streaming", async () => {
    openaiUpstream.enqueueFaults({ kind: "status", status: 500 }, { kind: "status", status: 500 });
    const failed = await errorOf(
      client.chat.completions.create({ model: "openai/gpt-4o-mini", messages: user("Hi"), stream: true }),
    );
    expect(failed).toBeInstanceOf(OpenAI.InternalServerError);
    expect(failed.status).toBe(502);
    expect(failed.message).toMatch(/no target of "openai\/gpt-4o-mini" could answer/);
    expect(failed.message).not.toMatch(/server had an error/);
  });

  it("ends a stream cut after its first chunk with an error event and no [DONE]", async () => {
    openaiUpstream.enqueueFaults({ kind: "reset-mid-stream", afterChunks: 2 });
    const stream = await client.chat.completions.create({
      model: "openai/gpt-4o-mini",
      messages: user("Tell me about the sea."),
      max_tokens: 20,
      stream: true,
    });
    let text = "";
    const cut = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    })().catch((error: unknown) => error);
    expect(cut).toBeInstanceOf(OpenAI.APIError);
    expect((cut as Error).message).toMatch(/cut after 2 tokens/);
    expect(text).toBe("The sea");

    openaiUpstream.enqueueFaults({ kind: "reset-mid-stream", afterChunks: 2 });
    const raw = await post("/v1/chat/completions", {
      model: "openai/gpt-4o-mini",
      messages: user("Tell me about the sea."),
      stream: true,
    });
    expect(raw.status).toBe(200);
    const data = events(await raw.text());
    expect(data).not.toContain("[DONE]");
    expect(JSON.parse(data.at(-1) ?? "{}")).toMatchObject({
      error: { type: "server_error", code: "unavailable", message: expect.stringMatching(/correlation id/) },
    });
  });
});

describe("cancellation", () => {
  it("closes the upstream OpenAI connection when the client aborts mid-stream", async () => {
    const abort = new AbortController();
    const stream = await client.chat.completions.create(
      { model: "openai/gpt-4o-mini", messages: user("Tell me about the sea."), stream: true },
      { signal: abort.signal },
    );
    let received = 0;
    await (async () => {
      for await (const _ of stream) if (++received === 3) abort.abort();
    })().catch(() => {});
    await vi.waitFor(() => expect(openaiUpstream.requests.at(-1)?.closedByClient).toBe(true));
    expect(openaiUpstream.requests.at(-1)?.chunksSent).toBeLessThan(10);
  });

  it("stops the local generation when the client aborts mid-stream", async () => {
    const abort = new AbortController();
    const maxTokens = 1_000;
    const stream = await client.chat.completions.create(
      { model: server.modelId, messages: user("Tell me a story"), max_tokens: maxTokens, stream: true },
      { signal: abort.signal, headers: { "x-correlation-id": "rest-abort-1" } },
    );
    let received = 0;
    await (async () => {
      for await (const _ of stream) if (++received === 3) abort.abort();
    })().catch(() => {});
    await vi.waitFor(() => expect(server.manager.stats().activeGenerations).toBe(0));
    const generation = server.manager.stats().recentGenerations.at(-1);
    expect(generation?.finishReason).toBe("cancelled");
    expect(generation?.completionTokens).toBeLessThan(maxTokens / 4);
    await vi.waitFor(() =>
      expect(server.logs.find((l) => l.msg === "rest" && l.correlationId === "rest-abort-1")?.status).toBe(
        499,
      ),
    );
    await vi.waitFor(() =>
      expect(server.access.usageRecords().find((r) => r.correlationId === "rest-abort-1")?.status).toBe(
        "cancelled",
      ),
    );
  });
});

describe("bad input over raw HTTP", () => {
  const valid = { model: "openai/gpt-4o-mini", messages: user("Hi"), max_tokens: 2 };
  const cases: Array<[string, string | object, number, RegExp, string | null]> = [
    ["malformed JSON", '{"model": "x",\n  "messages": [}', 400, /not valid JSON at line 2, column 16/, null],
    ["a trailing comma", '{"model": "x",}', 400, /line 1, column 15.*property name/, null],
    ["an empty body", "", 400, /body is empty/, null],
    ["an array body", "[]", 400, /must be a JSON object \(got an array\)/, null],
    ["no messages", { model: "x" }, 400, /messages is required/, "messages"],
    [
      "empty messages",
      { ...valid, messages: [] },
      400,
      /messages must hold at least one message/,
      "messages",
    ],
    ["no model", { messages: user("Hi") }, 400, /model is required.*GET \/v1\/models/, "model"],
    [
      "a number as content",
      { ...valid, messages: [{ role: "user", content: 5 }] },
      400,
      /messages\[0\]\.content must be a string or an array of text parts \(got 5\)/,
      "messages[0].content",
    ],
    [
      "a string as max_tokens",
      { ...valid, max_tokens: "ten" },
      400,
      /max_tokens must be an integer \(got "ten"\)/,
      "max_tokens",
    ],
    [
      "a fractional max_tokens",
      { ...valid, max_tokens: 1.5 },
      400,
      /max_tokens must be an integer \(got 1.5\)/,
      "max_tokens",
    ],
    ["max_tokens of 0", { ...valid, max_tokens: 0 }, 400, /max_tokens must be greater than 0/, "max_tokens"],
    ["top_p above 1", { ...valid, top_p: 1.5 }, 400, /top_p must be greater than 0 and at most 1/, "top_p"],
    [
      "five stop sequences",
      { ...valid, stop: ["a", "b", "c", "d", "e"] },
      400,
      /stop holds at most 4/,
      "stop",
    ],
    [
      "a tool role",
      { ...valid, messages: [{ role: "tool", content: "x" }] },
      400,
      /messages\[0\]\.role must be/,
      "messages[0].role",
    ],
    [
      "an image part",
      { ...valid, messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "x" } }] }] },
      400,
      /text only/,
      "messages[0].content[0]",
    ],
    ["stream as a string", { ...valid, stream: "yes" }, 400, /stream must be a boolean/, "stream"],
    [
      "an oversized body",
      { ...valid, padding: "x".repeat(maxBodyBytes) },
      413,
      /larger than this server's limit of 65536 bytes/,
      null,
    ],
  ];
  it.each(cases)("%s", async (_name, body, status, message, param) => {
    const response = await post("/v1/chat/completions", body);
    expect(response.status).toBe(status);
    const { error } = (await response.json()) as { error: Record<string, unknown> };
    expect(error.message).toMatch(message);
    expect(error.message).toMatch(/\(correlation id: [\w-]+\)$/);
    expect(error.param).toBe(param);
    expect(error.type).toBe("invalid_request_error");
    expect(response.headers.get("x-correlation-id")).toBeTruthy();
  });

  it("ignores unknown fields and accepts null for unset ones, as OpenAI does", async () => {
    const response = await post("/v1/chat/completions", {
      ...valid,
      frobnicate: { deeply: ["nested"] },
      temperature: null,
      stop: null,
      user: "someone",
      metadata: { a: "b" },
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { object: string }).object).toBe("chat.completion");
  });

  it("answers unknown routes and methods with 404 and 405, never 500", async () => {
    const unknown = await post("/v1/embeddings", { input: "x" });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toMatch(
      /POST \/v1\/chat\/completions/,
    );
    const wrongMethod = await fetch(`${server.baseUrl}/v1/chat/completions`, {
      headers: { authorization: `Bearer ${server.adminKey}` },
    });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("POST");
    // HEAD works wherever GET does, without a body.
    const head = await fetch(`${server.baseUrl}/v1/models`, {
      method: "HEAD",
      headers: { authorization: `Bearer ${server.adminKey}` },
    });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-type")).toMatch(/application\/json/);
    expect(await head.text()).toBe("");
    const put = await fetch(`${server.baseUrl}/v1/models`, {
      method: "PUT",
      headers: { authorization: `Bearer ${server.adminKey}` },
    });
    expect(put.status).toBe(405);
    expect(put.headers.get("allow")).toBe("GET, HEAD");
    expect(server.logs.filter((l) => l.msg === "rest" && l.status === 500)).toEqual([]);
  });
});

describe("HTTP hygiene", () => {
  it("sends the security headers on every route, REST and health alike", async () => {
    for (const path of ["/v1/models", "/health"]) {
      const response = await fetch(`${server.baseUrl}${path}`);
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("x-frame-options")).toBe("SAMEORIGIN");
      expect(response.headers.get("strict-transport-security")).toMatch(/max-age=/);
      expect(response.headers.get("content-security-policy")).toMatch(/default-src 'self'/);
    }
  });

  it("answers CORS preflights for allowed origins only and exposes the correlation id", async () => {
    const preflight = (from: string) =>
      fetch(`${server.baseUrl}/v1/chat/completions`, {
        method: "OPTIONS",
        headers: {
          origin: from,
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization, content-type, x-stainless-os",
        },
      });
    const allowed = await preflight(origin);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe(origin);
    expect(allowed.headers.get("access-control-allow-methods")).toMatch(/POST/);
    expect(allowed.headers.get("access-control-allow-headers")).toMatch(/authorization/);
    const other = await preflight("https://evil.example.com");
    expect(other.headers.get("access-control-allow-origin")).toBeNull();

    const actual = await post(
      "/v1/chat/completions",
      { model: "openai/gpt-4o-mini", messages: user("Hi") },
      { origin },
    );
    expect(actual.headers.get("access-control-allow-origin")).toBe(origin);
    expect(actual.headers.get("access-control-expose-headers")).toMatch(/x-correlation-id/);
    expect(actual.headers.get("vary")).toMatch(/Origin/);
  });
});
