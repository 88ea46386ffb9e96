import { Code, ConnectError } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatPart } from "./chat-types.js";
import { createNoaClient, type NoaClientOptions } from "./create-noa-client.js";
import { describeError } from "./describe-error.js";
import { type SpawnedNoaServer, spawnNoaServer } from "./testing/spawn-noa-server.js";

// @noa/client against the real rpc-server process (main.ts on PostgreSQL with the tiny llama model).
let server: SpawnedNoaServer;
beforeAll(async () => {
  server = await spawnNoaServer();
});
afterAll(() => server?.close());

async function collect(parts: AsyncIterable<ChatPart>) {
  const received: ChatPart[] = [];
  for await (const part of parts) received.push(part);
  return received;
}

async function failure(call: Promise<unknown>) {
  try {
    await call;
  } catch (error) {
    return error;
  }
  throw new Error("the call should have failed");
}

describe("streamChat", () => {
  it.each<[string, NoaClientOptions["transport"]]>([
    ["Connect over fetch (browsers and Node)", "connect"],
    ["gRPC-Web over fetch (browsers and Node)", "grpc-web"],
    ["gRPC over HTTP/2 (connect-node)", createGrpcTransport],
  ])("streams text parts and then one finish part with usage and cost, over %s", async (_name, transport) => {
    const client = createNoaClient({ baseUrl: server.baseUrl, apiKey: server.adminKey, transport });
    const parts = await collect(
      client.streamChat({ model: server.modelId, messages: "Tell me a story", maxTokens: 12 }),
    );
    const deltas = parts.filter((part) => part.type === "text-delta");
    const finish = parts.at(-1);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.map((part) => part.text).join("")).not.toBe("");
    expect(finish).toMatchObject({
      type: "finish",
      finishReason: "length",
      usage: { completionTokens: 12 },
      provider: "llama-cpp",
      model: server.modelId,
      costUsd: 0,
    });
    expect(parts.filter((part) => part.type === "finish")).toHaveLength(1);
    expect(new Set(parts.map((part) => part.id)).size).toBe(1);
  });

  it("sends a conversation with roles and honours the sampling settings", async () => {
    const client = createNoaClient({ baseUrl: server.baseUrl, apiKey: server.adminKey });
    const request = {
      model: server.modelId,
      messages: [
        { role: "system" as const, content: "You are terse." },
        { role: "user" as const, content: "Hi" },
        { role: "assistant" as const, content: "Hello." },
        { role: "user" as const, content: "Again?" },
      ],
      maxTokens: 6,
      temperature: 0,
      seed: 7,
    };
    const finish = (await collect(client.streamChat(request))).at(-1);
    const alone = (await collect(client.streamChat({ ...request, messages: "Again?" }))).at(-1);
    if (finish?.type !== "finish" || alone?.type !== "finish") throw new Error("no finish part");
    expect(finish.usage.completionTokens).toBe(6);
    // The whole conversation reached the model: its prompt is longer than the last message's alone.
    expect(finish.usage.promptTokens).toBeGreaterThan(alone.usage.promptTokens);
  });

  it("cancels the call when the signal is aborted, and the server ends it (gRPC)", async () => {
    const client = createNoaClient({
      baseUrl: server.baseUrl,
      apiKey: server.adminKey,
      transport: createGrpcTransport,
    });
    const abort = new AbortController();
    let id = "";
    const error = await failure(
      (async () => {
        for await (const part of client.streamChat(
          { model: server.modelId, messages: "Go on forever", maxTokens: 100_000 },
          { signal: abort.signal },
        )) {
          id = part.id;
          abort.abort();
        }
      })(),
    );
    expect(ConnectError.from(error).code).toBe(Code.Canceled);
    // The server writes one log line per call when it ends: it did not go on to 100,000 tokens.
    const line = await server.waitForLog((log) => log.msg === "rpc" && log.correlationId === id, 20_000);
    expect(line.procedure).toBe("noa.inference.v1.InferenceService/StreamComplete");
  });

  it("cancels the call over fetch (the browser path) when the signal is aborted", async () => {
    const client = createNoaClient({ baseUrl: server.baseUrl, apiKey: server.adminKey });
    const abort = new AbortController();
    let deltas = 0;
    const error = await failure(
      (async () => {
        for await (const _ of client.streamChat(
          { model: server.modelId, messages: "Go on and on", maxTokens: 100_000 },
          { signal: abort.signal },
        )) {
          if (++deltas === 2) abort.abort();
        }
      })(),
    );
    expect(ConnectError.from(error).code).toBe(Code.Canceled);
    expect(deltas).toBeLessThan(100);
  });
});

describe("chat", () => {
  it("returns the whole answer with its usage", async () => {
    const client = createNoaClient({ baseUrl: server.baseUrl, apiKey: () => server.adminKey });
    const answer = await client.chat({ model: server.modelId, messages: "Hello", maxTokens: 5 });
    expect(answer.text).not.toBe("");
    expect(answer).toMatchObject({
      finishReason: "length",
      usage: { completionTokens: 5 },
      model: server.modelId,
    });
    expect(answer.id).toMatch(/^[\w-]{8,}$/);
  });

  it("applies the default unary deadline to whole answers but not to streams", async () => {
    const client = createNoaClient({
      baseUrl: server.baseUrl,
      apiKey: server.adminKey,
      timeouts: { unaryMs: 100 },
    });
    const request = { model: server.modelId, messages: "Write a long story", maxTokens: 1_000 };
    const error = describeError(await failure(client.chat(request)));
    expect(error.code).toBe("deadline_exceeded");
    const started = Date.now();
    const finish = (await collect(client.streamChat(request))).at(-1);
    expect(Date.now() - started).toBeGreaterThan(100);
    expect(finish?.type).toBe("finish");
  });
});

describe("errors", () => {
  it("without a key: UNAUTHENTICATED, with the server's message and correlation id", async () => {
    const client = createNoaClient({ baseUrl: server.baseUrl });
    const error = describeError(await failure(client.models.listModels({})));
    expect(error.code).toBe("unauthenticated");
    expect(error.correlationId).toMatch(/^[\w-]{8,}$/);
    expect(error.message).toContain(error.correlationId);
  });

  it("an unknown model: NOT_FOUND naming it", async () => {
    const client = createNoaClient({ baseUrl: server.baseUrl, apiKey: server.adminKey });
    const error = describeError(await failure(client.chat({ model: "llama-cpp/nope", messages: "Hi" })));
    expect(error.code).toBe("not_found");
    expect(error.message).toContain("llama-cpp/nope");
    expect(error.correlationId).toBeDefined();
  });

  it("no server: UNAVAILABLE without a correlation id", async () => {
    const client = createNoaClient({ baseUrl: "http://127.0.0.1:1", apiKey: server.adminKey });
    const error = describeError(await failure(client.models.listModels({})));
    expect(error.code).toBe("unavailable");
    expect(error.correlationId).toBeUndefined();
  });
});

describe("typed service clients", () => {
  it("lists models and manages keys through the same transport", async () => {
    const client = createNoaClient({ baseUrl: server.baseUrl, apiKey: server.adminKey });
    const { models } = await client.models.listModels({});
    expect(models.map((model) => model.id)).toContain(server.modelId);
    const created = await client.apiKeys.createApiKey({ name: "sdk", tenant: "acme", scopes: [1] });
    const asAcme = createNoaClient({ baseUrl: server.baseUrl, apiKey: created.key });
    expect(describeError(await failure(asAcme.apiKeys.listApiKeys({}))).code).toBe("permission_denied");
    expect(
      (await asAcme.chat({ model: server.modelId, messages: "Hi", maxTokens: 1 })).usage.completionTokens,
    ).toBe(1);
  });
});
