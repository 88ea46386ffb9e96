/**
 * NOA as the benchmarks run it, in its own process: the real router and OpenAI provider pointed at the
 * upstream (argv[2]), API-key authentication, in-memory rate limiting (limits high enough never to
 * refuse), the usage ledger (to a store that keeps nothing), a metrics registry, and NOA's logger
 * (createLogger: redaction on) at info writing every line to /dev/null (BENCH_LOG_FILE) asynchronously,
 * as main.ts does. A second provider, `bench/instant`, answers at once in-process, to tell NOA's own cost
 * from the OpenAI provider's. With argv[3] (`memory,redis` or `redis`), the response cache with those
 * tiers (Redis on 127.0.0.1:6379 under a key prefix of its own, deleted on exit) and request coalescing.
 * Over IPC: sends `{ type: "ready", baseUrl, key }`; answers `mark` (start counting), `stats` (CPU µs
 * since the mark, peak RSS) and `provider` (the OpenAI provider called directly, one call at a time: CPU
 * µs per call).
 */
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createLocalRateLimiter } from "@noa/access";
import { createLogger, startTracing } from "@noa/observability";
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
const tierNames = process.argv[3]?.split(",") ?? [];
// BENCH_OBSERVABILITY=off: no logs, no metrics, no tracing (the observability benchmark's baseline);
// `logs` or `metrics` (or `logs,metrics`): only those, to measure one part apart; default `on`: both.
// Tracing is on when OTEL_EXPORTER_OTLP_ENDPOINT is set, as in main.ts.
const observability = process.env.BENCH_OBSERVABILITY ?? "on";
const observed = (part: "logs" | "metrics") =>
  observability === "on" || observability.split(",").includes(part);
const logger = createLogger({
  service: "rpc-server",
  env: "bench",
  level: observed("logs") ? "info" : "silent",
  file: process.env.BENCH_LOG_FILE ?? "/dev/null",
});
const tracing = startTracing({ service: "rpc-server" });
const access = await createTestAccess({
  // The ledger batches every call's record off the request path, as in production; the store keeps none,
  // as a database would keep them elsewhere (the test fixture's in-memory store would grow without end).
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
const cache = tierNames.length > 0 ? await createCache(tierNames) : undefined;
const server = build({
  registry,
  logger,
  metrics: observed("metrics") ? createMetrics({ registry }) : undefined,
  access: access.access,
  ...(cache && { cache: { responses: cache.responses, inFlight: createInFlightTable(), shared: false } }),
});

async function createCache(names: string[]) {
  const redis = new Redis("redis://127.0.0.1:6379", { maxRetriesPerRequest: 1, enableOfflineQueue: false });
  redis.on("error", () => {});
  // Commands fail at once until the connection is ready (no offline queue), and a failing tier is
  // skipped for a while: serve only once Redis answers, or the first run would measure misses.
  await once(redis, "ready");
  const prefix = `noa-bench:cache:${randomUUID()}:`;
  const tiers: CacheTier[] = [];
  if (names.includes("memory")) tiers.push(createMemoryCacheTier());
  if (names.includes("redis")) tiers.push(createRedisCacheTier({ redis, prefix }));
  const responses = createResponseCache({ tiers, logger });
  return {
    responses,
    async close() {
      await responses.settled();
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    },
  };
}
const { port } = await server.listen(0, "127.0.0.1");

async function providerCost(count: number): Promise<number> {
  const model = openai.languageModel("gpt-4o-mini");
  const options = { messages: [{ role: "user" as const, content: "Tell me about the sea." }], maxTokens: 16 };
  for (let i = 0; i < count / 5; i++) await model.generate(options);
  const before = process.cpuUsage();
  for (let i = 0; i < count; i++) await model.generate(options);
  const cpu = process.cpuUsage(before);
  return (cpu.user + cpu.system) / count;
}

let mark = process.cpuUsage();
process.on("message", (message: { type: string; count?: number }) => {
  if (message.type === "mark") {
    mark = process.cpuUsage();
    process.send?.({ type: "marked" });
  } else if (message.type === "stats") {
    const cpu = process.cpuUsage(mark);
    process.send?.({ type: "stats", cpuUs: cpu.user + cpu.system, maxRssKb: process.resourceUsage().maxRSS });
  } else if (message.type === "provider") {
    void providerCost(message.count ?? 2_000).then((cpuUs) => process.send?.({ type: "provider", cpuUs }));
  }
});
process.on("disconnect", () => {
  void server
    .close({ graceMs: 0 })
    .then(() => cache?.close())
    .then(() => tracing.shutdown())
    .finally(() => process.exit(0));
});
process.send?.({ type: "ready", baseUrl: `http://127.0.0.1:${port}`, key, tracing: tracing.enabled });
