import { randomBytes } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createTestDatabase, type TestDatabase } from "@noa/db/testing";
import { JobState, Role } from "@noa/proto";
import { OPENAI_LOOPBACK_API_KEY, startOpenAILoopbackServer } from "@noa/providers/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @noa/client is not a dependency of this package (it depends on @noa/rpc-server for its own tests).
import { createNoaClient, type NoaClient } from "../../../../packages/client/src/index.js";
import { type SpawnedNoaServer, spawnNoaServer } from "../../../../packages/client/src/testing/index.js";
import {
  collectGarbage,
  findListeningPid,
  gcOnSignalNodeOptions,
  type RssSampler,
  startRssSampler,
  toMiB,
} from "./load-process-memory.js";
import { createLoadRecorder, type LoadOutcome } from "./load-recorder.js";

// Issue 10's sustained-load suite: one real rpc-server process (main.ts on PostgreSQL and Redis) and one
// worker, under a bounded run of mixed traffic from 8 concurrent lanes: unary and streamed completions
// over gRPC, Connect, gRPC-Web (@noa/client) and REST (the openai SDK), cache hits and misses, jobs
// submitted over gRPC and REST and watched to the end, a few refusals on purpose, mostly against a fast
// OpenAI-wire loopback upstream plus a little traffic to the tiny llama model. It asserts correctness
// only, never timing: no unexpected error, no job lost, one usage record per admitted call in
// PostgreSQL, and the server's RSS flat after the warm-up third. NOA_RELIABILITY_HEAVY=1 runs for
// several minutes instead of ~45 s (NOA_LOAD_SECONDS overrides both).
const heavy = process.env.NOA_RELIABILITY_HEAVY === "1";
const loadSeconds = Number(process.env.NOA_LOAD_SECONDS ?? (heavy ? 300 : 40));
/** Concurrent request loops over the loopback upstream; one more lane calls the tiny llama model. */
const lanes = 8;
/** How often the server is asked for a full garbage collection during the run (see gcOnSignalNodeOptions). */
const gcEveryMs = 3_000;
/**
 * RSS bound: the largest sample of the last third may exceed the largest of the warm-up third by at
 * most this much. The warm-up third absorbs what a healthy process grows into (JIT code, pools, the
 * memory cache tier filling to its entry bound). A full collection every 3 s keeps V8 from deferring
 * its garbage for the whole run (left alone it ran no major collection in 40 s and grew ~100 MiB), so
 * both thirds see the same sawtooth of a few seconds' garbage and compare fairly; the rest of the bound
 * is for native memory settling (malloc arenas, socket buffers). It catches leaks above ~50 KiB per
 * call over the default run's ~1,000 calls after the warm-up, and proportionally smaller ones in a
 * heavy run.
 */
const rssGrowthBoundMiB = 64;

const openaiModel = "openai/gpt-4o-mini";
const runId = `load${randomBytes(4).toString("hex")}`;
let sequence = 0;
const nextCorrelationId = () => `${runId}-${++sequence}`;

let upstream: Awaited<ReturnType<typeof startOpenAILoopbackServer>>;
let database: TestDatabase;
let server: SpawnedNoaServer;
let serverPid: number;

beforeAll(async () => {
  upstream = await startOpenAILoopbackServer({ chunkDelayMs: 1 });
  // Our own database, so the usage ledger can be read; spawnNoaServer's own stays empty.
  database = await createTestDatabase({ migrate: false });
  server = await spawnNoaServer({
    worker: true,
    env: {
      DATABASE_URL: database.url,
      OPENAI_API_KEY: OPENAI_LOOPBACK_API_KEY,
      OPENAI_BASE_URL: upstream.baseURL,
      // Load, not rate limiting, is under test.
      NOA_RATE_LIMIT_BURST: "1000000",
      NOA_RATE_LIMIT_PER_SECOND: "1000000",
      NOA_WORKER_RATE_LIMIT: "0",
      NOA_WORKER_CONCURRENCY: "8",
      // A small memory tier reaches its bound in the warm-up, so the rest of the run exercises eviction
      // rather than designed growth.
      NOA_CACHE_MEMORY_MAX_ENTRIES: "500",
      NODE_OPTIONS: gcOnSignalNodeOptions,
    },
  });
  serverPid = await findListeningPid(server.port);
}, 120_000);

afterAll(async () => {
  await server?.close();
  await database?.close();
  await upstream?.close();
}, 60_000);

/** The clients of one run, all on the same server. */
function createClients() {
  const noa = (transport: Parameters<typeof createNoaClient>[0]["transport"]) =>
    createNoaClient({ baseUrl: server.baseUrl, apiKey: server.adminKey, transport });
  return {
    grpc: noa(createGrpcTransport),
    connect: noa("connect"),
    grpcWeb: noa("grpc-web"),
    openai: new OpenAI({
      baseURL: `${server.baseUrl}/v1`,
      apiKey: server.adminKey,
      maxRetries: 0,
      timeout: 120_000,
    }),
  };
}

type Clients = ReturnType<typeof createClients>;

/** What the run expects in the usage ledger: correlation id → records. */
const expectedUsage = new Map<string, number>();
const cache = { hits: 0, misses: 0 };
const jobs = { submitted: 0, completed: 0, failed: 0, unresolved: new Set<string>() };
const finalJobStates = new Set([
  JobState.COMPLETED,
  JobState.FAILED,
  JobState.DEAD_LETTERED,
  JobState.CANCELLED,
]);

/** Raises unless a whole answer looks like one: text, a finish reason and its usage. */
function checkAnswer(answer: { text: string; completionTokens: number }, what: string): void {
  if (answer.text === "" || answer.completionTokens < 1) {
    throw new Error(`${what}: an empty answer (${JSON.stringify(answer)})`);
  }
}

/** Consumes a @noa/client stream, checking it ends with exactly one finish part carrying usage. */
async function drainNoaStream(parts: ReturnType<NoaClient["streamChat"]>, what: string) {
  let text = "";
  let finishes = 0;
  let summary: { cached: boolean; completionTokens: number } | undefined;
  for await (const part of parts) {
    if (part.type === "text-delta") text += part.text;
    else {
      finishes++;
      summary = { cached: part.cached, completionTokens: part.usage.completionTokens };
    }
  }
  if (finishes !== 1 || !summary) throw new Error(`${what}: ${finishes} finish parts`);
  checkAnswer({ text, completionTokens: summary.completionTokens }, what);
  return summary;
}

function countCache(cached: boolean): void {
  if (cached) cache.hits++;
  else cache.misses++;
}

/** A prompt of this run only, so neither Redis nor an earlier run's cache answers it. */
const uniquePrompt = (id: string) => `Tell me about the sea (${id})`;
/** The few prompts asked again and again: after the first, each is a hit (or joins one in flight). */
const repeatedPrompt = () => `Repeat after me (${runId} #${Math.floor(Math.random() * 4)})`;

/** One request of each kind; resolves with how it ended, or throws for an unexpected failure. */
const kinds: Array<{ name: string; weight: number; run: (clients: Clients) => Promise<LoadOutcome> }> = [
  ...(["grpc", "connect", "grpcWeb"] as const).map((transport) => ({
    name: `${transport}-unary`,
    weight: transport === "grpcWeb" ? 4 : 10,
    async run(clients: Clients): Promise<LoadOutcome> {
      const id = nextCorrelationId();
      const answer = await clients[transport].chat(
        { model: openaiModel, messages: uniquePrompt(id), maxTokens: 12 },
        { headers: { "x-correlation-id": id } },
      );
      checkAnswer({ text: answer.text, completionTokens: answer.usage.completionTokens }, id);
      expectedUsage.set(id, 1);
      return "ok";
    },
  })),
  ...(["grpc", "connect"] as const).map((transport) => ({
    name: `${transport}-stream`,
    weight: 10,
    async run(clients: Clients): Promise<LoadOutcome> {
      const id = nextCorrelationId();
      await drainNoaStream(
        clients[transport].streamChat(
          { model: openaiModel, messages: uniquePrompt(id), maxTokens: 12 },
          { headers: { "x-correlation-id": id } },
        ),
        id,
      );
      expectedUsage.set(id, 1);
      return "ok";
    },
  })),
  {
    name: "rest-unary",
    weight: 12,
    async run({ openai }) {
      const id = nextCorrelationId();
      const answer = await openai.chat.completions.create(
        { model: openaiModel, messages: [{ role: "user", content: uniquePrompt(id) }], max_tokens: 12 },
        { headers: { "x-correlation-id": id } },
      );
      checkAnswer(
        {
          text: answer.choices[0]?.message.content ?? "",
          completionTokens: answer.usage?.completion_tokens ?? 0,
        },
        id,
      );
      expectedUsage.set(id, 1);
      return "ok";
    },
  },
  {
    name: "rest-stream",
    weight: 12,
    async run({ openai }) {
      const id = nextCorrelationId();
      const stream = await openai.chat.completions.create(
        {
          model: openaiModel,
          messages: [{ role: "user", content: uniquePrompt(id) }],
          max_tokens: 12,
          stream: true,
          stream_options: { include_usage: true },
        },
        { headers: { "x-correlation-id": id } },
      );
      let text = "";
      let completionTokens = 0;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? "";
        if (chunk.usage) completionTokens = chunk.usage.completion_tokens;
      }
      checkAnswer({ text, completionTokens }, id);
      expectedUsage.set(id, 1);
      return "ok";
    },
  },
  {
    // Greedy requests of a few prompts: the first of each misses, the rest hit (memory tier or coalesced).
    name: "rest-cache",
    weight: 6,
    async run({ openai }) {
      const id = nextCorrelationId();
      const { data, response } = await openai.chat.completions
        .create(
          {
            model: openaiModel,
            messages: [{ role: "user", content: repeatedPrompt() }],
            max_tokens: 8,
            temperature: 0,
          },
          { headers: { "x-correlation-id": id } },
        )
        .withResponse();
      checkAnswer(
        {
          text: data.choices[0]?.message.content ?? "",
          completionTokens: data.usage?.completion_tokens ?? 0,
        },
        id,
      );
      const header = response.headers.get("x-noa-cache");
      if (header !== "hit" && header !== "miss") throw new Error(`${id}: x-noa-cache is ${header}`);
      countCache(header === "hit");
      expectedUsage.set(id, 1);
      return "ok";
    },
  },
  {
    name: "grpc-stream-cache",
    weight: 6,
    async run({ grpc }) {
      const id = nextCorrelationId();
      const summary = await drainNoaStream(
        grpc.streamChat(
          { model: openaiModel, messages: repeatedPrompt(), maxTokens: 8, temperature: 0 },
          { headers: { "x-correlation-id": id } },
        ),
        id,
      );
      countCache(summary.cached);
      expectedUsage.set(id, 1);
      return "ok";
    },
  },
  {
    // A greedy request nobody asked before is a miss, and is then stored: a hit here is a wrong key.
    name: "connect-cache-miss",
    weight: 4,
    async run({ connect }) {
      const id = nextCorrelationId();
      const answer = await connect.chat(
        { model: openaiModel, messages: uniquePrompt(id), maxTokens: 8, temperature: 0 },
        { headers: { "x-correlation-id": id } },
      );
      checkAnswer({ text: answer.text, completionTokens: answer.usage.completionTokens }, id);
      expectedUsage.set(id, 1);
      if (answer.cached) throw new Error(`${id}: a request never made before was answered from the cache`);
      countCache(false);
      return "ok";
    },
  },
  ...(["grpc", "rest"] as const).map((face) => ({
    // Submitted, then watched over gRPC (WatchJob) until it ends.
    name: `job-${face}`,
    weight: 2.5,
    async run(clients: Clients): Promise<LoadOutcome> {
      const id = nextCorrelationId();
      const inference = {
        model: openaiModel,
        messages: [{ role: Role.USER, content: uniquePrompt(id) }],
        maxTokens: 8,
      };
      let jobId: string;
      if (face === "grpc") {
        const { job } = await clients.grpc.jobs.submitJob(
          { spec: { kind: { case: "inference", value: inference } } },
          { headers: { "x-correlation-id": id } },
        );
        jobId = job?.id ?? "";
      } else {
        const response = await fetch(`${server.baseUrl}/v1/jobs`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${server.adminKey}`,
            "content-type": "application/json",
            "x-correlation-id": id,
          },
          body: JSON.stringify({
            spec: {
              inference: {
                model: openaiModel,
                messages: [{ role: "ROLE_USER", content: uniquePrompt(id) }],
                max_tokens: 8,
              },
            },
          }),
        });
        const body = (await response.json()) as { job?: { id?: string } };
        if (response.status !== 201) throw new Error(`${id}: POST /v1/jobs ${response.status}`);
        jobId = body.job?.id ?? "";
      }
      if (!jobId) throw new Error(`${id}: the submission returned no job id`);
      jobs.submitted++;
      jobs.unresolved.add(jobId);
      let last: JobState | undefined;
      for await (const { job } of clients.grpc.jobs.watchJob({ id: jobId })) {
        last = job?.state;
        if (job && finalJobStates.has(job.state)) {
          jobs.unresolved.delete(jobId);
          expectedUsage.set(id, job.attempts);
          if (job.state !== JobState.COMPLETED) {
            jobs.failed++;
            throw new Error(`${id}: job ${jobId} ended ${JobState[job.state]}: ${job.error?.message}`);
          }
          jobs.completed++;
          return "ok";
        }
      }
      throw new Error(`${id}: WatchJob of ${jobId} ended while the job was ${JobState[last ?? 0]}`);
    },
  })),
  {
    // Refused on purpose: a model NOA does not serve is a 404 over REST and not usage.
    name: "expected-rest-404",
    weight: 1.5,
    async run({ openai }) {
      try {
        await openai.chat.completions.create({
          model: `llama-cpp/no-such-model-${runId}`,
          messages: [{ role: "user", content: "Hi" }],
          max_tokens: 4,
        });
      } catch (error) {
        if (error instanceof OpenAI.APIError && error.status === 404) return "expected-error";
        throw error;
      }
      throw new Error("an unknown model was served");
    },
  },
  {
    // Refused on purpose: temperature out of range over gRPC is INVALID_ARGUMENT and not usage.
    name: "expected-grpc-invalid",
    weight: 1.5,
    async run({ grpc }) {
      try {
        await grpc.chat({ model: openaiModel, messages: "Hi", maxTokens: 4, temperature: 5 });
      } catch (error) {
        if (ConnectError.from(error).code === Code.InvalidArgument) return "expected-error";
        throw error;
      }
      throw new Error("temperature 5 was accepted");
    },
  },
];

/** The tiny llama model's share: one lane, one call at a time, alternating faces. */
const llamaKinds: Array<{ name: string; run: (clients: Clients) => Promise<LoadOutcome> }> = [
  {
    name: "llama-grpc-stream",
    async run({ grpc }) {
      const id = nextCorrelationId();
      await drainNoaStream(
        grpc.streamChat(
          { model: server.modelId, messages: uniquePrompt(id), maxTokens: 8 },
          { headers: { "x-correlation-id": id } },
        ),
        id,
      );
      expectedUsage.set(id, 1);
      return "ok";
    },
  },
  {
    name: "llama-rest-unary",
    async run({ openai }) {
      const id = nextCorrelationId();
      const answer = await openai.chat.completions.create(
        { model: server.modelId, messages: [{ role: "user", content: uniquePrompt(id) }], max_tokens: 8 },
        { headers: { "x-correlation-id": id } },
      );
      checkAnswer(
        {
          text: answer.choices[0]?.message.content ?? "",
          completionTokens: answer.usage?.completion_tokens ?? 0,
        },
        id,
      );
      expectedUsage.set(id, 1);
      return "ok";
    },
  },
];

/** Picks a kind at random by weight. */
function pickKind() {
  const total = kinds.reduce((sum, kind) => sum + kind.weight, 0);
  let point = Math.random() * total;
  for (const kind of kinds) {
    point -= kind.weight;
    if (point < 0) return kind;
  }
  return kinds[0] as (typeof kinds)[number];
}

/** The server's V8 heap and its major collections so far, from its own /metrics (prom-client defaults). */
async function heapOf(): Promise<{ usedMiB: number; totalMiB: number; majorGcs: number }> {
  const text = await (await fetch(`${server.baseUrl}/metrics`)).text();
  const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);
  return {
    usedMiB: toMiB(value(/^nodejs_heap_size_used_bytes (\S+)/m)),
    totalMiB: toMiB(value(/^nodejs_heap_size_total_bytes (\S+)/m)),
    majorGcs: value(/^nodejs_gc_duration_seconds_count\{kind="major"\} (\S+)/m),
  };
}

async function usageByCorrelationId(): Promise<Map<string, number>> {
  const { rows } = await database.pool.query<{ correlation_id: string; n: number }>(
    "SELECT correlation_id, count(*)::int AS n FROM usage_records GROUP BY correlation_id",
  );
  return new Map(rows.map((row) => [row.correlation_id, row.n]));
}

async function waitUntil(done: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await done()) return true;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return done();
}

describe("sustained mixed load", () => {
  it(
    `serves ${loadSeconds} s of mixed traffic with no unexpected error, no lost job, every call in the ledger and flat RSS`,
    async () => {
      const clients = createClients();
      const recorder = createLoadRecorder();
      const logLinesBefore = server.logs.length;
      const sampler: RssSampler = await startRssSampler(serverPid, 1_000);
      const collector = setInterval(() => void collectGarbage(serverPid, 0).catch(() => {}), gcEveryMs);
      const started = performance.now();
      const deadline = started + loadSeconds * 1000;
      let heapAfterWarmUp: Awaited<ReturnType<typeof heapOf>> | undefined;
      const warmUpOver = setTimeout(
        () =>
          void heapOf().then((heap) => {
            heapAfterWarmUp = heap;
          }),
        (loadSeconds * 1000) / 3,
      );
      const llamaLane = async () => {
        for (let round = 0; performance.now() < deadline; round++) {
          const kind = llamaKinds[round % llamaKinds.length] as (typeof llamaKinds)[number];
          await recorder.measure(kind.name, () => kind.run(clients));
        }
      };
      await Promise.all([
        llamaLane(),
        ...Array.from({ length: lanes }, async () => {
          while (performance.now() < deadline) {
            const kind = pickKind();
            await recorder.measure(kind.name, () => kind.run(clients));
          }
        }),
      ]);
      const loadMs = performance.now() - started;
      clearInterval(collector);
      await sampler.stop();
      clearTimeout(warmUpOver);
      const heapAtEnd = await heapOf();

      // Jobs whose watch ended early are settled by GetJob; any still unfinished after 60 s are lost.
      await waitUntil(async () => {
        for (const jobId of jobs.unresolved) {
          const { job } = await clients.grpc.jobs.getJob({ id: jobId });
          if (!job || !finalJobStates.has(job.state)) continue;
          jobs.unresolved.delete(jobId);
          expectedUsage.set(job.correlationId, job.attempts);
          if (job.state === JobState.COMPLETED) jobs.completed++;
          else jobs.failed++;
        }
        return jobs.unresolved.size === 0;
      }, 60_000);

      // The ledger writes in batches off the request path: wait until it has caught up.
      const expectedRecords = [...expectedUsage.values()].reduce((sum, n) => sum + n, 0);
      let written = new Map<string, number>();
      await waitUntil(async () => {
        written = await usageByCorrelationId();
        return [...written.values()].reduce((sum, n) => sum + n, 0) >= expectedRecords;
      }, 30_000);
      const writtenRecords = [...written.values()].reduce((sum, n) => sum + n, 0);
      const usageMismatches = [...new Set([...expectedUsage.keys(), ...written.keys()])]
        .filter((id) => (expectedUsage.get(id) ?? 0) !== (written.get(id) ?? 0))
        .slice(0, 10)
        .map((id) => ({ id, expected: expectedUsage.get(id) ?? 0, written: written.get(id) ?? 0 }));

      const samples = sampler.samples.map((sample) => sample.bytes);
      const third = Math.max(1, Math.floor(samples.length / 3));
      const warmUpMax = Math.max(...samples.slice(0, third));
      const lastThirdMax = Math.max(...samples.slice(-third));
      const errorLogs = server.logs.slice(logLinesBefore).filter((line) => Number(line.level) >= 50);

      const traffic = recorder.summary();
      console.log(
        "reliability-summary",
        JSON.stringify({
          suite: "sustained-load",
          loadSeconds: Math.round(loadMs / 100) / 10,
          lanes,
          requests: traffic.sent,
          requestsPerSecond: Math.round(traffic.sent / (loadMs / 1000)),
          errors: { expected: traffic.expectedErrors, unexpected: traffic.unexpectedErrors },
          latencyMs: { p50: traffic.p50Ms, p99: traffic.p99Ms },
          cache,
          jobs: {
            submitted: jobs.submitted,
            completed: jobs.completed,
            failed: jobs.failed,
            lost: jobs.unresolved.size,
          },
          usageRecords: { expected: expectedRecords, written: writtenRecords },
          rssMiB: {
            pid: serverPid,
            samples: samples.length,
            first: toMiB(samples[0] ?? 0),
            warmUpMax: toMiB(warmUpMax),
            lastThirdMax: toMiB(lastThirdMax),
            growth: toMiB(lastThirdMax - warmUpMax),
            bound: rssGrowthBoundMiB,
            series: samples.map(toMiB),
          },
          serverHeapMiB: { afterWarmUp: heapAfterWarmUp, atEnd: heapAtEnd },
          errorLogLines: errorLogs.length,
          perKind: traffic.perKind,
        }),
      );

      expect.soft(recorder.unexpectedErrors(), "unexpected errors (first 20)").toEqual([]);
      expect.soft(traffic.unexpectedErrors, "unexpected errors").toBe(0);
      for (const kind of [...kinds, ...llamaKinds]) {
        expect
          .soft(traffic.perKind[kind.name]?.sent ?? 0, `requests of kind ${kind.name}`)
          .toBeGreaterThan(0);
      }
      expect.soft(cache.hits, "cache hits").toBeGreaterThan(0);
      expect.soft(cache.misses, "cache misses").toBeGreaterThan(0);
      expect.soft(jobs.submitted, "jobs submitted").toBeGreaterThan(0);
      expect.soft([...jobs.unresolved], "jobs lost (never finished)").toEqual([]);
      expect.soft(jobs.completed, "jobs completed").toBe(jobs.submitted);
      expect.soft(usageMismatches, "usage records per correlation id (first 10 mismatches)").toEqual([]);
      expect.soft(writtenRecords, "usage records written").toBe(expectedRecords);
      expect.soft(errorLogs.slice(0, 5), "server log lines at error level").toEqual([]);
      expect
        .soft(toMiB(lastThirdMax - warmUpMax), "RSS growth after the warm-up third, MiB")
        .toBeLessThanOrEqual(rssGrowthBoundMiB);
      expect((await fetch(`${server.baseUrl}/health`)).status).toBe(200);
    },
    (loadSeconds + 150) * 1000,
  );
});
