import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { CacheEvent, CallOptions, LanguageModel, StreamPart } from "../language-model.js";
import type { Logger } from "../logger.js";
import {
  OPENAI_LOOPBACK_API_KEY,
  startOpenAILoopbackServer,
} from "../openai/__fixtures__/openai-loopback-server.js";
import { createOpenAIProvider } from "../openai/openai-provider.js";
import type { LoopbackServer } from "../testing/loopback-fault.js";
import type { CacheTier } from "./cache-tier.js";
import { createMemoryCacheTier, type MemoryCacheTier } from "./memory-cache-tier.js";
import { createRedisCacheTier } from "./redis-cache-tier.js";
import { createResponseCache, type ResponseCache } from "./response-cache.js";
import { withCache } from "./with-cache.js";

let upstream: LoopbackServer;
let model: LanguageModel;
const redis = new Redis("redis://127.0.0.1:6379");
const prefixes: string[] = [];
const closers: Array<() => Promise<unknown> | unknown> = [];

beforeAll(async () => {
  upstream = await startOpenAILoopbackServer({ chunkDelayMs: 1 });
  model = createOpenAIProvider({ apiKey: OPENAI_LOOPBACK_API_KEY, baseURL: upstream.baseURL }).languageModel(
    "gpt-4o-mini",
  );
});
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});
afterAll(async () => {
  for (const prefix of prefixes) {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  await redis.quit();
  await upstream.close();
});

const upstreamCalls = () =>
  upstream.requests.filter((request) => request.path.endsWith("/chat/completions")).length;

function recordingLogger() {
  const lines: Array<{ level: string; obj: object; msg: string | undefined }> = [];
  const at = (level: string) => (obj: object, msg?: string) => {
    lines.push({ level, obj, msg });
  };
  const logger: Logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  return { logger, lines };
}

/** A memory tier and a Redis tier of its own (unique prefix) on one injected clock. */
function setup(options: { redisClient?: Redis; extraTiers?: CacheTier[] } = {}) {
  let time = Date.now();
  const now = () => time;
  const prefix = `noa-test:with-cache:${randomUUID()}:`;
  prefixes.push(prefix);
  const memory: MemoryCacheTier = createMemoryCacheTier({ ttlMs: 5 * 60_000, now });
  const redisTier = createRedisCacheTier({
    redis: options.redisClient ?? redis,
    prefix,
    ttlMs: 60 * 60_000,
    now,
  });
  const log = recordingLogger();
  const cache: ResponseCache = createResponseCache({
    tiers: [memory, redisTier, ...(options.extraTiers ?? [])],
    logger: log.logger,
    now,
  });
  return {
    cache,
    memory,
    prefix,
    log,
    model: withCache(model, { cache }),
    advance: (ms: number) => {
      time += ms;
    },
    flushRedis: async () => {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
    },
  };
}

let question = 0;
/** A greedy request no other test asks, so upstream counts are this test's own. */
function ask(extra: Partial<CallOptions> = {}): CallOptions & { events: CacheEvent[] } {
  question++;
  const events: CacheEvent[] = [];
  return {
    messages: [{ role: "user", content: `Question ${question} ${randomUUID()}: tell me about the sea.` }],
    maxTokens: 6,
    temperature: 0,
    cache: { scope: "tenant:acme" },
    ...extra,
    events,
    onCache: (event) => events.push(event),
  };
}

async function collect(stream: AsyncIterable<StreamPart>): Promise<StreamPart[]> {
  const parts: StreamPart[] = [];
  for await (const part of stream) parts.push(part);
  return parts;
}

describe("withCache", () => {
  it("serves a repeat from memory, then from Redis when memory is cleared, and backfills memory", async () => {
    const { model: cached, cache, memory } = setup();
    const request = ask();
    const first = await cached.generate(request);
    expect(request.events).toEqual([{ status: "miss" }]);
    await cache.settled();
    const calls = upstreamCalls();

    const fromMemory = ask({ messages: request.messages });
    expect(await cached.generate(fromMemory)).toEqual(first);
    expect(fromMemory.events).toEqual([{ status: "hit", source: "memory", model: "openai/gpt-4o-mini" }]);

    memory.clear();
    const fromRedis = ask({ messages: request.messages });
    expect(await cached.generate(fromRedis)).toEqual(first);
    expect(fromRedis.events).toEqual([{ status: "hit", source: "redis", model: "openai/gpt-4o-mini" }]);

    const backfilled = ask({ messages: request.messages });
    await cached.generate(backfilled);
    expect(backfilled.events).toEqual([{ status: "hit", source: "memory", model: "openai/gpt-4o-mini" }]);
    expect(upstreamCalls()).toBe(calls);
  });

  it("expires entries per tier on the injected clock: memory after 5 minutes, Redis after an hour", async () => {
    const { model: cached, cache, advance } = setup();
    const request = ask();
    await cached.generate(request);
    await cache.settled();
    const calls = upstreamCalls();

    advance(5 * 60_000 + 1);
    const afterMemoryTtl = ask({ messages: request.messages });
    await cached.generate(afterMemoryTtl);
    expect(afterMemoryTtl.events[0]).toMatchObject({ status: "hit", source: "redis" });

    advance(60 * 60_000);
    const afterRedisTtl = ask({ messages: request.messages });
    await cached.generate(afterRedisTtl);
    expect(afterRedisTtl.events).toEqual([{ status: "miss" }]);
    expect(upstreamCalls()).toBe(calls + 1);
  });

  it("honours a call's TTL in every tier, and stores nothing with a TTL of 0", async () => {
    const { model: cached, cache, advance, memory } = setup();
    const request = ask({ cache: { scope: "tenant:acme", ttlSeconds: 10 } });
    await cached.generate(request);
    await cache.settled();
    advance(9_000);
    const within = ask({ messages: request.messages });
    await cached.generate(within);
    expect(within.events[0]).toMatchObject({ status: "hit", source: "memory" });
    advance(1_001);
    memory.clear();
    const after = ask({ messages: request.messages });
    await cached.generate(after);
    expect(after.events).toEqual([{ status: "miss" }]);

    const unstored = ask({ cache: { scope: "tenant:acme", ttlSeconds: 0 } });
    await cached.generate(unstored);
    await cache.settled();
    const again = ask({ messages: unstored.messages });
    await cached.generate(again);
    expect(again.events).toEqual([{ status: "miss" }]);
  });

  it("skips the cache when asked, refreshes it when asked", async () => {
    const { model: cached, cache } = setup();
    const request = ask();
    await cached.generate(request);
    await cache.settled();
    const calls = upstreamCalls();

    const skipped = ask({ messages: request.messages, cache: { scope: "tenant:acme", mode: "skip" } });
    await cached.generate(skipped);
    expect(skipped.events).toEqual([{ status: "bypass" }]);
    expect(upstreamCalls()).toBe(calls + 1);

    // A refresh goes upstream even though the answer is cached, and stores what it got.
    upstream.enqueueFaults({ kind: "status", status: 500 });
    const failedRefresh = ask({
      messages: request.messages,
      cache: { scope: "tenant:acme", mode: "refresh" },
    });
    await expect(cached.generate(failedRefresh)).rejects.toThrow();
    const refreshed = ask({ messages: request.messages, cache: { scope: "tenant:acme", mode: "refresh" } });
    await cached.generate(refreshed);
    expect(refreshed.events).toEqual([{ status: "refresh" }]);
    expect(upstreamCalls()).toBe(calls + 3);
    const after = ask({ messages: request.messages });
    await cached.generate(after);
    expect(after.events[0]).toMatchObject({ status: "hit", source: "memory" });
  });

  it("caches a sampled request only when forced, and a seeded one by default", async () => {
    const { model: cached, cache } = setup();
    const sampled = ask({ temperature: 0.8 });
    await cached.generate(sampled);
    await cached.generate(ask({ messages: sampled.messages, temperature: 0.8 }));
    expect(sampled.events).toEqual([{ status: "bypass" }]);

    const forced = ask({ temperature: 0.8, cache: { scope: "tenant:acme", mode: "force" } });
    await cached.generate(forced);
    await cache.settled();
    const forcedAgain = ask({
      messages: forced.messages,
      temperature: 0.8,
      cache: { scope: "tenant:acme", mode: "force" },
    });
    await cached.generate(forcedAgain);
    expect(forcedAgain.events[0]).toMatchObject({ status: "hit", source: "memory" });

    const seeded = ask({ temperature: 0.8, seed: 7 });
    await cached.generate(seeded);
    const seededAgain = ask({ messages: seeded.messages, temperature: 0.8, seed: 7 });
    await cached.generate(seededAgain);
    expect(seededAgain.events[0]).toMatchObject({ status: "hit", source: "memory" });
  });

  it("never serves one tenant's answer to another", async () => {
    const { model: cached, cache, memory } = setup();
    const acme = ask({ cache: { scope: "tenant:acme" } });
    await cached.generate(acme);
    await cache.settled();
    const globex = ask({ messages: acme.messages, cache: { scope: "tenant:globex" } });
    await cached.generate(globex);
    expect(globex.events).toEqual([{ status: "miss" }]);
    memory.clear();
    const globexFromRedis = ask({ messages: acme.messages, cache: { scope: "tenant:globex" } });
    await cache.settled();
    await cached.generate(globexFromRedis);
    expect(globexFromRedis.events[0]).toMatchObject({ status: "hit", source: "redis" });
  });

  it("replays a cached answer to a stream as text chunks, then the finish part with the stored usage", async () => {
    const { model: cached } = setup();
    const request = ask({ maxTokens: 30 });
    const live = await collect(cached.stream(request));
    const replay = ask({ messages: request.messages, maxTokens: 30 });
    const replayed = await collect(cached.stream(replay));

    expect(replay.events).toEqual([{ status: "hit", source: "memory", model: "openai/gpt-4o-mini" }]);
    const text = (parts: StreamPart[]) =>
      parts.map((part) => (part.type === "text-delta" ? part.text : "")).join("");
    expect(text(replayed)).toBe(text(live));
    expect(replayed.filter((part) => part.type === "text-delta").length).toBeGreaterThan(2);
    expect(replayed.at(-1)).toEqual(live.at(-1));
    expect(replayed.at(-1)).toMatchObject({
      type: "finish",
      finishReason: "length",
      usage: { completionTokens: 30 },
    });

    // A stream's answer serves a whole-answer call too, and the other way round.
    const whole = ask({ messages: request.messages, maxTokens: 30 });
    expect((await cached.generate(whole)).text).toBe(text(live));
    expect(whole.events[0]).toMatchObject({ status: "hit" });
  });

  it("does not store a stream the caller left before its end", async () => {
    const { model: cached } = setup();
    const abort = new AbortController();
    const request = ask({ maxTokens: 30, signal: abort.signal });
    for await (const part of cached.stream(request)) {
      if (part.type === "text-delta") abort.abort();
    }
    const again = ask({ messages: request.messages, maxTokens: 30 });
    await cached.generate(again);
    expect(again.events).toEqual([{ status: "miss" }]);
  });

  it("skips a tier that throws, logs it once, and still answers and fills the others", async () => {
    const broken: CacheTier = {
      name: "database",
      defaultTtlMs: 60_000,
      get: async () => {
        throw new Error("connect ECONNREFUSED 127.0.0.1:5432\nquery: SELECT … 'Question 1: the prompt'");
      },
      set: async () => {
        throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
      },
    };
    const { model: cached, cache, memory, log } = setup({ extraTiers: [broken] });
    const request = ask();
    const first = await cached.generate(request);
    await cache.settled();
    memory.clear();
    const again = ask({ messages: request.messages });
    expect(await cached.generate(again)).toEqual(first);
    expect(again.events[0]).toMatchObject({ status: "hit", source: "redis" });
    const warnings = log.lines.filter((line) => line.level === "warn");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.obj).toMatchObject({
      tier: "database",
      error: "connect ECONNREFUSED 127.0.0.1:5432",
    });
    expect(JSON.stringify(log.lines)).not.toContain("the prompt");
  });

  it("gives up on a tier that does not answer and goes on to the provider", async () => {
    const hanging: CacheTier = {
      name: "database",
      defaultTtlMs: 60_000,
      get: () => new Promise(() => {}),
      set: () => new Promise(() => {}),
    };
    const { model: cached, memory, log, prefix, flushRedis } = setup({ extraTiers: [hanging] });
    const request = ask();
    const first = await cached.generate(request);
    // The hanging tier's write never settles, so wait for Redis's own before removing it.
    await vi.waitFor(async () => expect(await redis.keys(`${prefix}*`)).toHaveLength(1));
    memory.clear();
    await flushRedis();
    const again = ask({ messages: request.messages });
    expect(await cached.generate(again)).toEqual(first);
    expect(again.events).toEqual([{ status: "miss" }]);
    expect(log.lines.find((line) => line.level === "warn")?.obj).toMatchObject({
      tier: "database",
      operation: "read",
      error: "no answer within 500 ms",
    });
  });

  it("still answers when Redis goes down mid-test, and uses Redis again once it is back", async () => {
    const proxy = await startTcpProxy(6379);
    closers.push(() => proxy.close());
    const client = new Redis(proxy.port, "127.0.0.1", {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      retryStrategy: () => 20,
    });
    client.on("error", () => {});
    await client.connect();
    closers.push(() => client.disconnect());
    const { model: cached, cache, memory, log, advance } = setup({ redisClient: client });

    const before = ask();
    const beforeAnswer = await cached.generate(before);
    await cache.settled();

    proxy.stop();
    memory.clear();
    const during = ask({ messages: before.messages });
    expect(await cached.generate(during)).toEqual(beforeAnswer); // from the provider: Redis is gone
    expect(during.events).toEqual([{ status: "miss" }]);
    const fromMemory = ask({ messages: before.messages });
    await cached.generate(fromMemory);
    expect(fromMemory.events[0]).toMatchObject({ status: "hit", source: "memory" });
    expect(log.lines.filter((line) => line.level === "warn").map((line) => line.obj)).toEqual([
      expect.objectContaining({ tier: "redis" }),
    ]);

    await proxy.start();
    await new Promise<void>((resolve) => client.once("ready", () => resolve()));
    advance(5_001); // past the tier's cool-down
    memory.clear();
    const after = ask({ messages: before.messages });
    await cached.generate(after);
    expect(after.events[0]).toMatchObject({ status: "hit", source: "redis" });
    expect(log.lines.at(-1)).toMatchObject({ level: "info", obj: { tier: "redis" } });
  });
});

/** A TCP proxy to a local port that can be stopped (listener closed, connections cut) and started again on the same port. */
async function startTcpProxy(targetPort: number) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const start = () =>
    new Promise<void>((resolve) => {
      const listener = createServer((client) => {
        const target = tcpConnect(targetPort, "127.0.0.1");
        for (const socket of [client, target]) {
          sockets.add(socket);
          socket.on("close", () => sockets.delete(socket));
          socket.on("error", () => {});
        }
        client.pipe(target).pipe(client);
      });
      server = listener;
      listener.listen(port, "127.0.0.1", () => {
        port = (listener.address() as AddressInfo).port;
        resolve();
      });
    });
  await start();
  const stop = () => {
    server?.close();
    for (const socket of sockets) socket.destroy();
  };
  return {
    get port() {
      return port;
    },
    start,
    stop,
    close: async () => stop(),
  };
}
