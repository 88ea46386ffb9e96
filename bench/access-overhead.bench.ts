/**
 * CPU and latency that authentication and rate limiting add to each request: an API key on the
 * authenticator's cache-hit path, then a rate-limit admission against real Redis (shared limits) and
 * in memory (the fallback). Writes docs/benchmarks.md between the access-overhead markers.
 */
import { randomUUID } from "node:crypto";
import { availableParallelism, cpus } from "node:os";
import {
  createApiKeyService,
  createAuthenticator,
  createInMemoryApiKeyStore,
  createLocalRateLimiter,
  createRedisRateLimiter,
  type RateLimiter,
} from "@noa/access";
import { Redis } from "ioredis";
import { writeSection } from "./write-section.js";

const iterations = Number(process.env.BENCH_ITERATIONS ?? 20_000);
const defaults = { requestBurst: 1e9, requestsPerSecond: 1e9, tokensPerMinute: 0 };

const store = createInMemoryApiKeyStore();
const apiKeys = createApiKeyService({ store });
const { key } = await apiKeys.create({ name: "bench", tenant: "bench", scopes: ["inference"] });
const authenticator = createAuthenticator({ store });
const headers = new Headers({ authorization: `Bearer ${key}` });
await authenticator.authenticate(headers); // the cache is warm from here on

const redis = new Redis("redis://127.0.0.1:6379");
const prefix = `noa-bench:${randomUUID()}:`;
const limiters: Record<string, RateLimiter> = {
  "Redis (shared)": createRedisRateLimiter({ redis, prefix, defaults }),
  "in memory (fallback)": createLocalRateLimiter({ defaults }),
};

async function measure(step: () => Promise<unknown>) {
  for (let i = 0; i < 1_000; i++) await step();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < iterations; i++) await step();
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  return { cpuUs: (cpu.user + cpu.system) / iterations, latencyUs: (wallMs * 1000) / iterations };
}

const rows: string[] = [];
const auth = await measure(() => authenticator.authenticate(headers));
rows.push(`| API key, cache hit | ${auth.cpuUs.toFixed(1)} | ${auth.latencyUs.toFixed(1)} |`);
for (const [name, limiter] of Object.entries(limiters)) {
  const both = await measure(async () => {
    const principal = await authenticator.authenticate(headers);
    return limiter.admit(`key:${principal.id}`, principal.limits);
  });
  rows.push(
    `| API key (cache hit) + rate limit, ${name} | ${both.cpuUs.toFixed(1)} | ${both.latencyUs.toFixed(1)} |`,
  );
  console.log(name, both);
}
// Throughput with many requests in flight, as a busy server sees it.
const concurrency = 64;
const concurrentCpu = process.cpuUsage();
const started = performance.now();
let done = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (done < iterations) {
      done++;
      const principal = await authenticator.authenticate(headers);
      await limiters["Redis (shared)"]?.admit(`key:${principal.id}`, principal.limits);
    }
  }),
);
const perSecond = (iterations / (performance.now() - started)) * 1000;
const concurrentUsage = process.cpuUsage(concurrentCpu);
const concurrentCpuUs = ((concurrentUsage.user + concurrentUsage.system) / iterations).toFixed(1);
await redis.del(...(await redis.keys(`${prefix}*`)));
await redis.quit();

writeSection(
  "access-overhead",
  [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus()[0]?.model ?? "unknown CPU"} (${availableParallelism()} cores), Node ${process.version}, Redis on loopback; ${iterations} sequential requests after 1,000 warm-up.`,
    "",
    "| per request | CPU (µs) | latency (µs) |",
    "|---|---|---|",
    ...rows,
    "",
    `Auth + Redis rate limit with ${concurrency} requests in flight: ${Math.round(perSecond).toLocaleString("en-US")} requests/s on one event loop, ${concurrentCpuUs} µs of CPU per request.`,
  ].join("\n"),
);
