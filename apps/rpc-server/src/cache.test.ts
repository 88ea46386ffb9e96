import { randomUUID } from "node:crypto";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createTestDatabase, type TestDatabase } from "@noa/db/testing";
import {
  ApiKeyService,
  CacheMode,
  type CompleteResponse,
  FinishReason,
  InferenceService,
  Role,
  Scope,
  type StreamCompleteResponse,
} from "@noa/proto";
import { createOpenAIProvider } from "@noa/providers";
import {
  type LoopbackServer,
  OPENAI_LOOPBACK_API_KEY,
  startOpenAILoopbackServer,
} from "@noa/providers/testing";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { withKey } from "./__fixtures__/create-test-access.js";
import { startTestServer, type TestServer } from "./__fixtures__/start-test-server.js";
import { parseConfig } from "./config.js";
import { createCompletionCache } from "./create-completion-cache.js";

// Issue 6's acceptance through a real server: the loopback OpenAI server upstream (which counts the calls),
// the cache as main.ts builds it over real Redis (a key prefix of its own) and a PostgreSQL database of its own.
const routes = { default: ["openai/gpt-4o-mini"] };
const redisPrefix = `noa-test:cache-e2e:${randomUUID()}:`;
let upstream: LoopbackServer;
let database: TestDatabase;
let redis: Redis;
let cache: ReturnType<typeof createCompletionCache>;
let server: TestServer;

beforeAll(async () => {
  // Chunks 2 ms apart, so identical streams started together are in flight together.
  upstream = await startOpenAILoopbackServer({ chunkDelayMs: 2 });
  database = await createTestDatabase();
  redis = new Redis("redis://127.0.0.1:6379", {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    lazyConnect: true,
  });
  await redis.connect();
  cache = createCompletionCache({
    // A loaded CI machine can take more than the default 500 ms to read PostgreSQL.
    config: parseConfig({ NOA_CACHE_TIER_TIMEOUT_MS: "10000" }).cache,
    redis,
    prisma: database.prisma,
    targetsOf: (model) => routes[model as keyof typeof routes] ?? [model],
    logger: pino({ level: "silent" }),
    redisPrefix,
  });
  server = await startTestServer({
    providers: [createOpenAIProvider({ apiKey: OPENAI_LOOPBACK_API_KEY, baseURL: upstream.baseURL })],
    routing: { routes },
    cache: cache.deps,
  });
});
afterAll(async () => {
  await server?.close();
  await cache?.close();
  const keys = await redis.keys(`${redisPrefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis?.disconnect();
  await Promise.all([upstream?.close(), database?.close()]);
});

const question = () => `${randomUUID()}: tell me about the sea.`;
/** The upstream calls that asked this question. */
const upstreamCalls = (content: string) =>
  upstream.requests.filter((request) => JSON.stringify(request.body).includes(content)).length;

function inference(key = server.adminKey) {
  return createClient(
    InferenceService,
    createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [withKey(key)] }),
  );
}

async function newKey(tenant: string, rateLimit?: { requestBurst: number; requestsPerSecond: number }) {
  const keys = createClient(
    ApiKeyService,
    createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [server.auth] }),
  );
  const created = await keys.createApiKey({ name: "cache", tenant, scopes: [Scope.INFERENCE], rateLimit });
  return created.key;
}

function rest(body: object, headers: Record<string, string> = {}, key = server.adminKey) {
  return fetch(`${server.baseUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}`, ...headers },
    body: JSON.stringify(body),
  });
}
const chat = (content: string, extra: object = {}) => ({
  model: "default",
  messages: [{ role: "user", content }],
  max_tokens: 8,
  temperature: 0,
  ...extra,
});

/** The text of an SSE chat completion stream. */
function contentOf(sse: string): string {
  return sse
    .split("\n\n")
    .filter((event) => event.startsWith("data: {"))
    .map(
      (event) =>
        (JSON.parse(event.slice(6)) as { choices: Array<{ delta: { content?: string } }> }).choices[0]?.delta
          .content ?? "",
    )
    .join("");
}

async function flushRedis() {
  const keys = await redis.keys(`${redisPrefix}*`);
  if (keys.length > 0) await redis.del(...keys);
}

describe("the response cache through the server", () => {
  it("serves a repeat from memory, from Redis once memory is cleared, from PostgreSQL once Redis is flushed, refilling the faster tiers", async () => {
    const content = question();
    const request = {
      model: "default",
      messages: [{ role: Role.USER, content }],
      maxTokens: 8,
      temperature: 0,
    };
    const client = inference();
    const first = await client.complete(request);
    expect(first).toMatchObject({ cached: false, cacheTier: "", attempts: 1, model: "openai/gpt-4o-mini" });
    expect(first.costUsd).toBeGreaterThan(0);
    await cache.deps?.responses.settled();

    const tiers: string[] = [];
    const answers: CompleteResponse[] = [];
    for (const clear of [
      () => {},
      () => cache.memory?.clear(),
      async () => {
        cache.memory?.clear();
        await flushRedis();
      },
      () => {},
    ]) {
      await clear();
      const answer = await client.complete(request);
      await cache.deps?.responses.settled();
      tiers.push(answer.cacheTier);
      answers.push(answer);
    }
    expect(tiers).toEqual(["memory", "redis", "database", "memory"]);
    for (const answer of answers) {
      expect(answer).toMatchObject({
        text: first.text,
        finishReason: first.finishReason,
        usage: first.usage,
        model: "openai/gpt-4o-mini",
        provider: "openai",
        cached: true,
        attempts: 0,
        costUsd: 0,
      });
    }
    expect(upstreamCalls(content)).toBe(1);

    // The ledger: one record per request, the hits marked with their tier and no cost.
    await vi.waitFor(() => {
      const records = server.access
        .usageRecords()
        .filter((record) => answers.concat(first).some((answer) => answer.id === record.correlationId));
      expect(records).toHaveLength(5);
    });
    const records = server.access
      .usageRecords()
      .filter((record) => [first, ...answers].some((a) => a.id === record.correlationId));
    const byId = new Map(records.map((record) => [record.correlationId, record]));
    expect(byId.get(first.id)).toMatchObject({ cached: false, cacheTier: undefined, status: "ok" });
    expect(byId.get(first.id)?.costUsd).toBeGreaterThan(0);
    expect(answers.map((answer) => byId.get(answer.id))).toEqual(
      ["memory", "redis", "database", "memory"].map((cacheTier) =>
        expect.objectContaining({
          cached: true,
          cacheTier,
          costUsd: 0,
          status: "ok",
          modelRequested: "default",
          modelServed: "openai/gpt-4o-mini",
          completionTokens: first.usage?.completionTokens,
        }),
      ),
    );
  });

  it("replays a cached answer to StreamComplete as a stream whose last message says cached", async () => {
    const content = question();
    const request = {
      model: "default",
      messages: [{ role: Role.USER, content }],
      maxTokens: 30,
      temperature: 0,
    };
    const client = inference();
    const live: StreamCompleteResponse[] = [];
    for await (const message of client.streamComplete(request)) live.push(message);
    const replayed: StreamCompleteResponse[] = [];
    for await (const message of client.streamComplete(request)) replayed.push(message);

    const text = (messages: typeof live) => messages.map((message) => message.text).join("");
    expect(text(replayed)).toBe(text(live));
    expect(replayed.filter((message) => message.text !== "").length).toBeGreaterThan(2);
    expect(live.at(-1)).toMatchObject({ cached: false, cacheTier: "" });
    expect(replayed.at(-1)).toMatchObject({
      cached: true,
      cacheTier: "memory",
      finishReason: FinishReason.LENGTH,
      usage: live.at(-1)?.usage,
      model: "openai/gpt-4o-mini",
      costUsd: 0,
    });
    expect(replayed.slice(0, -1).every((message) => !message.cached)).toBe(true);
    expect(upstreamCalls(content)).toBe(1);
  });

  it("skips, refreshes, forces and sets a TTL per request through the contract's CacheControl", async () => {
    const content = question();
    const base = { model: "default", messages: [{ role: Role.USER, content }], maxTokens: 8, temperature: 0 };
    const client = inference();
    await client.complete(base);
    expect((await client.complete({ ...base, cache: { mode: CacheMode.SKIP } })).cached).toBe(false);
    expect((await client.complete({ ...base, cache: { mode: CacheMode.REFRESH } })).cached).toBe(false);
    expect(upstreamCalls(content)).toBe(3);
    expect((await client.complete(base)).cached).toBe(true);

    const sampled = { ...base, messages: [{ role: Role.USER, content: question() }], temperature: 0.8 };
    expect((await client.complete(sampled)).cached).toBe(false);
    expect((await client.complete(sampled)).cached).toBe(false);
    const forced = { ...sampled, cache: { mode: CacheMode.FORCE } };
    await client.complete(forced);
    expect(await client.complete(forced)).toMatchObject({ cached: true, cacheTier: "memory" });

    const unstored = {
      ...base,
      messages: [{ role: Role.USER, content: question() }],
      cache: { ttlSeconds: 0 },
    };
    await client.complete(unstored);
    expect((await client.complete(unstored)).cached).toBe(false);
  });

  it("keeps tenants apart", async () => {
    const [acme, globex] = await Promise.all([newKey("acme"), newKey("globex")]);
    const content = question();
    const request = {
      model: "default",
      messages: [{ role: Role.USER, content }],
      maxTokens: 8,
      temperature: 0,
    };
    expect((await inference(acme).complete(request)).cached).toBe(false);
    expect((await inference(globex).complete(request)).cached).toBe(false);
    expect((await inference(acme).complete(request)).cached).toBe(true);
    expect((await inference(globex).complete(request)).cached).toBe(true);
    expect(upstreamCalls(content)).toBe(2);
  });

  it("still applies the rate limit to cache hits", async () => {
    const key = await newKey("acme", { requestBurst: 2, requestsPerSecond: 0.001 });
    const request = {
      model: "default",
      messages: [{ role: Role.USER, content: question() }],
      maxTokens: 8,
      temperature: 0,
    };
    await inference(key).complete(request);
    expect((await inference(key).complete(request)).cached).toBe(true);
    const refused = await inference(key)
      .complete(request)
      .catch((error: unknown) => error);
    expect(ConnectError.from(refused).code).toBe(Code.ResourceExhausted);
  });

  it("takes Cache-Control and x-noa-cache on REST and says how the cache served in x-noa-cache(-tier)", async () => {
    const content = question();
    const status = (response: Response) => [
      response.headers.get("x-noa-cache"),
      response.headers.get("x-noa-cache-tier"),
    ];
    const miss = await rest(chat(content));
    expect(status(miss)).toEqual(["miss", null]);
    const body = (await miss.json()) as { choices: Array<{ message: { content: string } }> };
    const hit = await rest(chat(content));
    expect(status(hit)).toEqual(["hit", "memory"]);
    expect(((await hit.json()) as typeof body).choices[0]?.message.content).toBe(
      body.choices[0]?.message.content,
    );

    expect(status(await rest(chat(content), { "cache-control": "no-store" }))).toEqual(["bypass", null]);
    expect(status(await rest(chat(content), { "cache-control": "no-cache" }))).toEqual(["refresh", null]);
    expect(upstreamCalls(content)).toBe(3);

    const sampled = question();
    expect(status(await rest(chat(sampled, { temperature: 0.9 })))).toEqual(["bypass", null]);
    expect(status(await rest(chat(sampled, { temperature: 0.9 }), { "x-noa-cache": "force" }))).toEqual([
      "miss",
      null,
    ]);
    expect(status(await rest(chat(sampled, { temperature: 0.9 }), { "x-noa-cache": "force" }))).toEqual([
      "hit",
      "memory",
    ]);

    const brief = question();
    await rest(chat(brief), { "cache-control": "max-age=0" });
    expect(status(await rest(chat(brief)))).toEqual(["miss", null]);

    const refused = await rest(chat(question()), { "cache-control": "max-age=soon" });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({
      error: { param: "cache-control", type: "invalid_request_error" },
    });
  });

  it("replays a cached REST stream as several SSE chunks", async () => {
    const content = question();
    const streamed = async () => {
      const response = await rest(chat(content, { stream: true, max_tokens: 30 }));
      const events = (await response.text())
        .split("\n\n")
        .filter((event) => event.startsWith("data: {"))
        .map((event) => JSON.parse(event.slice(6)) as { choices: Array<{ delta: { content?: string } }> });
      const text = events.map((event) => event.choices[0]?.delta.content ?? "").join("");
      return { cache: response.headers.get("x-noa-cache-tier"), text, chunks: events.length };
    };
    const live = await streamed();
    const replay = await streamed();
    expect(replay.cache).toBe("memory");
    expect(replay.text).toBe(live.text);
    expect(replay.chunks).toBeGreaterThan(3);
  });

  it("finishes a follower's StreamComplete when the first caller cancels, without a second upstream call, and charges that call once, to the follower", async () => {
    const content = question();
    const request = {
      model: "default",
      messages: [{ role: Role.USER, content }],
      maxTokens: 30,
      temperature: 0,
    };
    const client = inference();
    const abort = new AbortController();
    const collect = async () => {
      const messages: StreamCompleteResponse[] = [];
      for await (const message of client.streamComplete(request)) messages.push(message);
      return messages;
    };
    let following: Promise<StreamCompleteResponse[]> | undefined;
    let leaderId = "";
    const leader = (async () => {
      let messages = 0;
      try {
        for await (const message of client.streamComplete(request, { signal: abort.signal })) {
          messages++;
          leaderId = message.id;
          if (messages === 1) following = collect(); // joins the call in flight
          if (messages === 3) abort.abort();
        }
      } catch (error) {
        return ConnectError.from(error).code;
      }
    })();
    const leaderEnd = await leader;
    const follower = (await following) ?? [];

    expect(leaderEnd).toBe(Code.Canceled);
    // The follower took the upstream call over: it pays for all of it, as if it had made it alone.
    const last = follower.at(-1);
    expect(last).toMatchObject({
      finishReason: FinishReason.LENGTH,
      cached: false,
      cacheTier: "",
      provider: "openai",
      model: "openai/gpt-4o-mini",
      usage: { completionTokens: 30 },
    });
    expect(last?.costUsd).toBeGreaterThan(0);
    expect(
      follower
        .map((message) => message.text)
        .join("")
        .split(" "),
    ).toHaveLength(30);
    expect(upstreamCalls(content)).toBe(1);
    expect(
      upstream.requests.find((record) => JSON.stringify(record.body).includes(content))?.closedByClient,
    ).toBe(false);

    // The ledger: one call's tokens and cost, charged once. The leader is a cancelled coalesced answer
    // (someone else pays), named after the target that served it.
    const recordOf = (id: string | undefined) =>
      server.access.usageRecords().find((record) => record.correlationId === id);
    await vi.waitFor(() => {
      expect(recordOf(leaderId)).toBeDefined();
      expect(recordOf(last?.id)).toBeDefined();
    });
    expect(recordOf(leaderId)).toMatchObject({
      status: "cancelled",
      cached: true,
      cacheTier: "coalesced",
      costUsd: 0,
      provider: "openai",
      modelServed: "openai/gpt-4o-mini",
    });
    expect(recordOf(last?.id)).toMatchObject({
      status: "ok",
      cached: false,
      provider: "openai",
      modelServed: "openai/gpt-4o-mini",
      completionTokens: 30,
      costUsd: last?.costUsd,
    });
  });

  it("charges a shared call that fails mid-stream once, to its first caller, not to the one that joined it", async () => {
    const content = question();
    const request = {
      model: "default",
      messages: [{ role: Role.USER, content }],
      maxTokens: 30,
      temperature: 0,
    };
    const client = inference();
    const drain = async (id: string, onMessage: (count: number) => void = () => {}) => {
      let count = 0;
      try {
        for await (const message of client.streamComplete(request, { headers: { "x-correlation-id": id } })) {
          if (message.text) onMessage(++count);
        }
        return { count, code: undefined };
      } catch (error) {
        return { count, code: ConnectError.from(error).code };
      }
    };
    upstream.enqueueFaults({ kind: "reset-mid-stream", afterChunks: 6 });
    const [leaderId, joinerId] = [randomUUID(), randomUUID()];
    let joining: ReturnType<typeof drain> | undefined;
    const leader = await drain(leaderId, (count) => {
      if (count === 1) joining = drain(joinerId);
    });
    const joiner = await joining;

    expect(leader).toEqual({ count: 6, code: Code.Unavailable });
    expect(joiner).toEqual({ count: 6, code: Code.Unavailable });
    expect(upstreamCalls(content)).toBe(1);
    const recordOf = (id: string) =>
      server.access.usageRecords().find((record) => record.correlationId === id);
    await vi.waitFor(() => {
      expect(recordOf(leaderId)).toBeDefined();
      expect(recordOf(joinerId)).toBeDefined();
    });
    expect(recordOf(leaderId)).toMatchObject({
      status: "error",
      cached: false,
      provider: "openai",
      modelServed: "openai/gpt-4o-mini",
      completionTokens: 6,
    });
    expect(recordOf(leaderId)?.costUsd).toBeGreaterThan(0);
    expect(recordOf(joinerId)).toMatchObject({
      status: "error",
      cached: true,
      cacheTier: "coalesced",
      costUsd: 0,
      modelServed: "openai/gpt-4o-mini",
    });
  });

  it("makes one upstream call for 50 identical concurrent REST streams", async () => {
    const content = question();
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => rest(chat(content, { stream: true, max_tokens: 40 }))),
    );
    const texts = await Promise.all(responses.map(async (response) => contentOf(await response.text())));
    expect(responses.every((response) => response.status === 200)).toBe(true);
    expect(new Set(texts).size).toBe(1);
    expect(texts[0]?.length).toBeGreaterThan(100);
    expect(upstreamCalls(content)).toBe(1);
    // One went upstream; the others joined it (coalesced) or, arriving after it ended, found it in memory.
    const sources = responses.map(
      (response) => response.headers.get("x-noa-cache-tier") ?? response.headers.get("x-noa-cache"),
    );
    expect(sources.filter((source) => source === "miss")).toHaveLength(1);
    expect(sources.filter((source) => source === "coalesced" || source === "memory")).toHaveLength(49);
  });
});
