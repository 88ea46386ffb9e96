/**
 * NOA as the cache benchmark runs it, in its own process: like rest-gateway.ts (the real router and
 * OpenAI provider pointed at the upstream in argv[2], API-key auth, in-memory rate limiting, the usage
 * ledger to a store that keeps nothing, metrics, NOA's logger to /dev/null), plus the response cache
 * with the tiers named in argv[3] (`memory,redis` or `redis`; Redis on 127.0.0.1:6379 under a key prefix
 * of its own, deleted on exit) and request coalescing. `bench/instant` answers at once in-process.
 * Over IPC: sends `{ type: "ready", baseUrl, key }`; answers `mark` and `stats` (CPU µs since the mark).
 */
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createLocalRateLimiter } from "@noa/access";
import { createLogger } from "@noa/observability";
import {
  type CacheTier,
  createInFlightTable,
  createMemoryCacheTier,
  createModelRegistry,
  createOpenAIProvider,
  createRedisCacheTier,
  createResponseCache,
  createRouter,
  type LanguageModel,
  type Provider,
  parseRoutingConfig,
} from "@noa/providers";
import { createMetrics } from "@noa/rpc-server/metrics";
import { build } from "@noa/rpc-server/server";
import { createTestAccess } from "@noa/rpc-server/testing";
import { Redis } from "ioredis";

const upstream = process.argv[2] ?? "";
const tierNames = (process.argv[3] ?? "memory,redis").split(",");
const logger = createLogger({
  service: "rpc-server",
  env: "bench",
  file: process.env.BENCH_LOG_FILE ?? "/dev/null",
});
const access = await createTestAccess({
  usageStore: { insertMany: async () => {}, summarize: async () => [] },
  rateLimiter: createLocalRateLimiter({
    defaults: { requestBurst: 1e9, requestsPerSecond: 1e9, tokensPerMinute: 1e12 },
  }),
});
const key = (
  await access.apiKeys.create({ name: "bench", tenant: "bench", scopes: ["inference", "models:read"] })
).key;

const usage = { promptTokens: 5, completionTokens: 8 };
const instant: LanguageModel = {
  provider: "bench",
  modelId: "instant",
  generate: async () => ({ text: "The sea is vast and deep and blue", finishReason: "stop", usage }),
  async *stream() {
    for (const text of ["The", " sea", " is", " vast", " and", " deep", " and", " blue"]) {
      yield { type: "text-delta", text };
    }
    yield { type: "finish", finishReason: "stop", usage };
  },
};
const bench: Provider = {
  id: "bench",
  listModels: async () => [],
  languageModel: () => instant,
  close: async () => {},
};
const openai = createOpenAIProvider({ apiKey: "sk-bench", baseURL: upstream, logger });
const registry = createRouter({
  registry: createModelRegistry({ providers: [openai, bench] }),
  config: parseRoutingConfig({}),
  logger,
});

const redis = new Redis("redis://127.0.0.1:6379", { maxRetriesPerRequest: 1, enableOfflineQueue: false });
redis.on("error", () => {});
// Commands fail at once until the connection is ready (no offline queue), and a failing tier is skipped
// for a while: serve only once Redis answers, or the first run would measure misses.
await once(redis, "ready");
const prefix = `noa-bench:cache:${randomUUID()}:`;
const tiers: CacheTier[] = [];
if (tierNames.includes("memory")) tiers.push(createMemoryCacheTier());
if (tierNames.includes("redis")) tiers.push(createRedisCacheTier({ redis, prefix }));
const responses = createResponseCache({ tiers, logger });

const server = build({
  registry,
  logger,
  metrics: createMetrics({ registry }),
  access: access.access,
  cache: { responses, inFlight: createInFlightTable(), shared: false },
});
const { port } = await server.listen(0, "127.0.0.1");

let mark = process.cpuUsage();
process.on("message", (message: { type: string }) => {
  if (message.type === "mark") {
    mark = process.cpuUsage();
    process.send?.({ type: "marked" });
  } else if (message.type === "stats") {
    const cpu = process.cpuUsage(mark);
    process.send?.({ type: "stats", cpuUs: cpu.user + cpu.system, maxRssKb: process.resourceUsage().maxRSS });
  }
});
process.on("disconnect", () => {
  void (async () => {
    await server.close({ graceMs: 0 });
    await responses.settled();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  })().finally(() => process.exit(0));
});
process.send?.({ type: "ready", baseUrl: `http://127.0.0.1:${port}`, key });
