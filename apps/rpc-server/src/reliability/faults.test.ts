import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createDatabase, createPrismaApiKeyStore } from "@noa/db";
import { createTestDatabase, type TestDatabase } from "@noa/db/testing";
import { createJobQueues } from "@noa/jobs";
import { ApiKeyService, InferenceService, JobService, JobState, Role, Scope } from "@noa/proto";
import {
  ANTHROPIC_LOOPBACK_API_KEY,
  type LoopbackFault,
  OPENAI_LOOPBACK_API_KEY,
  startAnthropicLoopbackServer,
  startOpenAILoopbackServer,
} from "@noa/providers/testing";
import { Redis } from "ioredis";
import { describe, expect, it, vi } from "vitest";
import { createTestAccess, withKey } from "../__fixtures__/create-test-access.js";
import { baseAppEnv, spawnAppProcess } from "../__fixtures__/spawn-app-process.js";
import { freePort, startPrivateRedis } from "../__fixtures__/start-private-redis.js";
import { startTestServer } from "../__fixtures__/start-test-server.js";
import { type CallResult, grpcStream, restChat } from "./faults-calls.js";
import { startLoad, summarize } from "./faults-load.js";
import { type NoaProcess, spawnNoaProcess } from "./faults-noa-process.js";
import { startTcpProxy } from "./faults-tcp-proxy.js";
import { startScaleOutUpstream } from "./scale-out-upstream.js";
import { startScaleOutWebhookReceiver } from "./scale-out-webhook-receiver.js";

// Issue 10's fault-injection suite: real rpc-server processes (src/main.ts, as `pnpm start` runs it)
// under concurrent load from REST (whole and streamed) and gRPC clients, on real PostgreSQL and Redis,
// with OpenAI- and Anthropic-wire loopback servers standing in for the vendors. Each case breaks one
// thing mid-load and checks what a caller would notice: every call ends, as a success or with a clean
// error, and every admitted call is in the usage ledger. Each prints one `reliability-summary` line for
// docs/reliability.md. The cases run concurrently (each on its own database, Redis, loopbacks and
// process): most of a case's time is a process starting or a fault being waited out.
// NOA_RELIABILITY_HEAVY=1 runs more clients for longer.
const heavy = process.env.NOA_RELIABILITY_HEAVY === "1";
const scale = heavy ? 3 : 1;
const concurrency = heavy ? 16 : 6;
const testTimeoutMs = heavy ? 300_000 : 150_000;
const primary = "openai/gpt-4o-mini";
const secondary = "anthropic/claude-haiku-5-5";

type OnFinished = (fn: () => Promise<void>) => void;

/** Collects disposers and runs them in reverse when the test finishes, passed or failed. */
function disposer(onTestFinished: OnFinished) {
  const stack: Array<() => Promise<unknown>> = [];
  onTestFinished(async () => {
    for (const dispose of stack.reverse()) await dispose().catch(() => {});
  });
  return <T extends { close(): Promise<unknown> }>(resource: T): T => {
    stack.push(() => resource.close());
    return resource;
  };
}

/** Everything one case runs on: its own database, Redis, vendor loopbacks and rpc-server process. */
async function startStack(
  track: ReturnType<typeof disposer>,
  options: {
    /** Route PostgreSQL through a TCP proxy the test can cut. */
    proxyDatabase?: boolean;
    env?: NodeJS.ProcessEnv;
    config?: object;
    openaiChunkDelayMs?: number;
  } = {},
) {
  // Its own Redis: breaker openings travel on a fixed pub/sub channel that other suites' replicas hear.
  const redis = track(await startPrivateRedis());
  // The server applies the migrations itself on start, as in production.
  const database = track(await createTestDatabase({ migrate: false }));
  const proxy = options.proxyDatabase
    ? track(await startTcpProxy({ host: "127.0.0.1", port: 5432 }))
    : undefined;
  const databaseUrl = new URL(database.url);
  if (proxy) databaseUrl.port = String(proxy.port);
  const openai = track(await startOpenAILoopbackServer({ chunkDelayMs: options.openaiChunkDelayMs ?? 2 }));
  const anthropic = track(await startAnthropicLoopbackServer());
  const noa = track(
    await spawnNoaProcess({
      env: {
        DATABASE_URL: databaseUrl.toString(),
        REDIS_URL: redis.url,
        OPENAI_API_KEY: OPENAI_LOOPBACK_API_KEY,
        OPENAI_BASE_URL: openai.baseURL,
        ANTHROPIC_API_KEY: ANTHROPIC_LOOPBACK_API_KEY,
        ANTHROPIC_BASE_URL: anthropic.baseURL,
        // One key carries the load; what is under test is Redis's availability, not the bucket's size.
        NOA_RATE_LIMIT_BURST: "1000000",
        NOA_RATE_LIMIT_PER_SECOND: "1000000",
        // Validated keys stay trusted without a database lookup for the whole test.
        NOA_KEY_CACHE_TTL_MS: "600000",
        NOA_SHUTDOWN_GRACE_MS: "1000",
        ...options.env,
      },
      config: options.config,
    }),
  );
  const grpc = createClient(
    InferenceService,
    createGrpcTransport({ baseUrl: noa.baseUrl, interceptors: [withKey(noa.adminKey)] }),
  );
  return { redis, database, proxy, openai, anthropic, noa, grpc };
}

type Stack = Awaited<ReturnType<typeof startStack>>;

/** Call n of a mixed load: REST whole, REST streamed and gRPC streamed in turn. */
function mixedCall(stack: Stack, model: string, hangAfterMs: number) {
  const target = { baseUrl: stack.noa.baseUrl, key: stack.noa.adminKey, model, maxTokens: 8, hangAfterMs };
  return (n: number) => {
    if (n % 3 === 0) return restChat(target, false);
    if (n % 3 === 1) return restChat(target, true);
    return grpcStream(stack.grpc, target);
  };
}

async function readiness(noa: NoaProcess) {
  const response = await fetch(`${noa.baseUrl}/health/ready`);
  const body = (await response.json()) as {
    status: string;
    usageBuffered?: number;
    dependencies: Record<string, { status: string }>;
  };
  return { status: response.status, body };
}

/** The correlation ids of the usage records written so far. */
async function usageIds(database: TestDatabase): Promise<string[]> {
  const rows = await database.prisma.usageRecord.findMany({ select: { correlationId: true } });
  return rows.map((row) => row.correlationId);
}

/**
 * Waits until the ledger has written as many records as expected, then checks they are exactly those,
 * once each; beyond them, only records `mayAlsoWrite` accepts.
 */
async function expectEveryUsageRecord(
  database: TestDatabase,
  expected: string[],
  mayAlsoWrite: (id: string) => boolean = () => false,
): Promise<number> {
  // The ledger retries with backoff (1 s, 2 s, 4 s…) after an outage.
  await vi.waitFor(
    async () => expect((await usageIds(database)).length).toBeGreaterThanOrEqual(expected.length),
    { timeout: 60_000, interval: 250 },
  );
  const written = await usageIds(database);
  expect(new Set(written).size).toBe(written.length);
  const wanted = new Set(expected);
  expect(written.filter((id) => wanted.has(id)).sort()).toEqual([...wanted].sort());
  expect(written.filter((id) => !wanted.has(id) && !mayAlsoWrite(id))).toEqual([]);
  return written.length;
}

/** Lets the load run for at least `minMs` and until `condition` holds (checked every 100 ms). */
async function keepLoading(minMs: number, condition: () => boolean | Promise<boolean> = () => true) {
  const started = performance.now();
  await vi.waitFor(
    async () => {
      expect(performance.now() - started).toBeGreaterThanOrEqual(minMs);
      expect(await condition()).toBe(true);
    },
    { timeout: minMs + 45_000, interval: 100 },
  );
}

function logged(noa: NoaProcess, msg: string, match: Record<string, unknown> = {}, from = 0): boolean {
  return noa.logs
    .slice(from)
    .some((line) => line.msg === msg && Object.entries(match).every(([key, value]) => line[key] === value));
}

/** Sends one request straight to the OpenAI loopback, so it takes the next queued fault; never waits long. */
async function drainOneFault(baseURL: string): Promise<void> {
  await fetch(`${baseURL}/chat/completions`, {
    method: "POST",
    signal: AbortSignal.timeout(500),
    headers: { authorization: `Bearer ${OPENAI_LOOPBACK_API_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "drain" }],
      stream: true,
    }),
  })
    .then((response) => response.body?.cancel())
    .catch(() => {});
}

/** The server's error-level log lines by message, for the summary (what an operator would be paged on). */
function errorLogs(noa: NoaProcess): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of noa.logs) {
    if (typeof line.level === "number" && line.level >= 50) {
      const msg = String(line.msg);
      counts[msg] = (counts[msg] ?? 0) + 1;
    }
  }
  return counts;
}

function describeUnexpected(unexpected: CallResult[]): string {
  return unexpected
    .slice(0, 10)
    .map(
      (result) =>
        `${result.phase} ${result.face} ${result.error} after ${result.ms} ms, ${result.tokens} tokens (${result.id}): ${result.detail ?? ""}`,
    )
    .join("\n");
}

/** The webhook secret of the jobs case's worker. */
const jobsWebhookSecret = "whsec_faults_0123456789abcdef0123456789abcdef";

/**
 * One rpc-server and one worker process (the real main.ts of each) on their own database, a persistent
 * private Redis and a job prefix of their own, with an OpenAI-wire upstream that records each call and a
 * loopback callback receiver (allowed by NOA_WEBHOOK_ALLOW_HTTP / _LOOPBACK).
 */
async function startJobStack(track: ReturnType<typeof disposer>) {
  const redis = track(await startPrivateRedis({ persistent: true }));
  const database = track(await createTestDatabase({ migrate: false }));
  const upstream = track(await startScaleOutUpstream({ models: ["gpt-4o-mini"], failing: [] }));
  const webhooks = track(await startScaleOutWebhookReceiver());
  const workerDir = await mkdtemp(path.join(tmpdir(), "noa-faults-worker-"));
  track({ close: () => rm(workerDir, { recursive: true, force: true }) });
  await mkdir(path.join(workerDir, "models"));
  // One HTTP request per job attempt, so the upstream's record counts attempts exactly.
  const config = { routing: { retry: { maxAttempts: 1 } } };
  const configFile = path.join(workerDir, "noa-config.json");
  await writeFile(configFile, JSON.stringify(config));
  const workerPort = await freePort();
  const env = {
    DATABASE_URL: database.url,
    REDIS_URL: redis.url,
    NOA_JOBS_PREFIX: `noa-faults-jobs-${randomBytes(5).toString("hex")}`,
    OPENAI_API_KEY: upstream.apiKey,
    OPENAI_BASE_URL: upstream.baseURL,
    NOA_WEBHOOK_ALLOW_HTTP: "true",
    NOA_WEBHOOK_ALLOW_LOOPBACK: "true",
    NOA_WEBHOOK_BACKOFF_BASE_MS: "100",
    NOA_RATE_LIMIT_BURST: "1000000",
    NOA_RATE_LIMIT_PER_SECOND: "1000000",
    NOA_KEY_CACHE_TTL_MS: "600000",
    NOA_SHUTDOWN_GRACE_MS: "1000",
  };
  // A worker still starting when the test ends is killed too.
  let workerChild: ChildProcess | undefined;
  track({
    close: async () => {
      if (!workerChild || workerChild.exitCode !== null || workerChild.signalCode !== null) return;
      const exited = new Promise((resolve) => workerChild?.once("exit", resolve));
      workerChild.kill("SIGKILL");
      await exited;
    },
  });
  const [noa, worker] = await Promise.allSettled([
    spawnNoaProcess({ env, config }),
    spawnAppProcess({
      name: "worker",
      kind: "worker",
      onSpawn: (child) => {
        workerChild = child;
      },
      env: {
        ...baseAppEnv(),
        NOA_DATA_DIR: workerDir,
        NOA_MODELS_DIR: path.join(workerDir, "models"),
        NOA_CONFIG: configFile,
        NOA_WEBHOOK_SECRET: jobsWebhookSecret,
        NOA_WEBHOOK_TIMEOUT_MS: "60000",
        NOA_WORKER_PORT: String(workerPort),
        NOA_WORKER_CONCURRENCY: "5",
        NOA_WORKER_RATE_LIMIT: "0",
        NOA_JOB_BACKOFF_BASE_MS: "100",
        // A job whose lock is gone is taken again within 2 s (after a lock of 30 s, the default).
        NOA_WORKER_STALLED_INTERVAL_MS: "2000",
        ...env,
      },
    }),
  ]);
  if (noa.status === "fulfilled") track(noa.value);
  if (noa.status === "rejected") throw noa.reason;
  if (worker.status === "rejected") throw worker.reason;
  const admin = createClient(
    ApiKeyService,
    createGrpcTransport({ baseUrl: noa.value.baseUrl, interceptors: [withKey(noa.value.adminKey)] }),
  );
  const { key } = await admin.createApiKey({
    name: "jobs",
    tenant: "acme",
    scopes: [Scope.JOBS, Scope.INFERENCE],
  });
  const jobs = createClient(
    JobService,
    createGrpcTransport({ baseUrl: noa.value.baseUrl, interceptors: [withKey(key)] }),
  );
  return {
    redis,
    database,
    upstream,
    webhooks,
    noa: noa.value,
    worker: worker.value,
    prefix: env.NOA_JOBS_PREFIX,
    workerReadyUrl: `http://127.0.0.1:${workerPort}/health/ready`,
    jobs,
  };
}

/** The HTTP status of a readiness endpoint (0: no answer within 10 s). */
async function readyStatus(url: string): Promise<number> {
  return fetch(url, { signal: AbortSignal.timeout(10_000) }).then(
    async (response) => {
      await response.body?.cancel();
      return response.status;
    },
    () => 0,
  );
}

describe.concurrent("faults under load", () => {
  // Stopped: connections are reset and refused. Silent: the process hangs (SIGSTOP) with its connections
  // open, so only timeouts tell (the limiter's 250 ms, readiness's 2 s).
  it.for([
    ["stopped and restarted", "stop"],
    ["silent and back", "pause"],
  ] as const)(
    "Redis %s: serving goes on with per-replica limits, readiness goes 503 and back, no usage is lost",
    {
      timeout: testTimeoutMs,
    },
    async ([, failure], { onTestFinished }) => {
      const track = disposer(onTestFinished);
      const stack = await startStack(track);
      const { noa, redis, database } = stack;
      // A key with a bucket of 2 and almost no refill, to see limits still enforced while Redis is down.
      const { key: limitedKey } = await createClient(
        ApiKeyService,
        createGrpcTransport({ baseUrl: noa.baseUrl, interceptors: [withKey(noa.adminKey)] }),
      ).createApiKey({
        name: "small bucket",
        tenant: "acme",
        scopes: [Scope.INFERENCE],
        rateLimit: { requestBurst: 2, requestsPerSecond: 0.001 },
      });
      const load = startLoad({ concurrency, call: mixedCall(stack, primary, 30_000), pauseMs: 5 });
      track({ close: () => load.stop() });
      await keepLoading(1_000 * scale, () => load.results.length >= 10);
      expect((await readiness(noa)).status).toBe(200);

      load.setPhase("outage");
      if (failure === "stop") await redis.stop();
      else redis.pause();
      await vi.waitFor(async () => {
        const { status, body } = await readiness(noa);
        expect(status).toBe(503);
        expect(body.dependencies.redis?.status).toBe("down");
        expect(body.dependencies.database?.status).toBe("ok");
      });
      // Serving goes on, limited per replica (the limiter says so once): calls start and end while Redis
      // is down.
      await keepLoading(
        1_500 * scale,
        () =>
          logged(noa, "rate limiter: shared store unavailable, limiting per replica until it returns") &&
          load.results.some((result) => result.phase === "outage" && result.ok),
      );
      // The small key's bucket now lives in this process: two calls pass, the next ones get 429.
      const limited: CallResult[] = [];
      for (let i = 0; i < 4; i++) {
        limited.push({
          ...(await restChat(
            { baseUrl: noa.baseUrl, key: limitedKey, model: primary, maxTokens: 4, hangAfterMs: 30_000 },
            false,
          )),
          n: -1,
          startedAt: 0,
          phase: "outage",
        });
      }
      expect(limited.map((result) => result.error ?? "ok")).toEqual([
        "ok",
        "ok",
        "http 429 rate_limit_error",
        "http 429 rate_limit_error",
      ]);

      load.setPhase("after");
      const redisBackAt = load.elapsed();
      if (failure === "stop") await redis.start();
      else redis.resume();
      await vi.waitFor(async () => expect((await readiness(noa)).status).toBe(200));
      await keepLoading(1_000 * scale, () =>
        logged(noa, "rate limiter: shared store back, limits shared again"),
      );
      const results = await load.stop();

      const outage = results.filter((result) => result.phase === "outage");
      const written = await expectEveryUsageRecord(database, [
        ...results.map((result) => result.id),
        ...limited.filter((result) => result.ok).map((result) => result.id),
      ]);
      const { summary, unexpected } = summarize(
        failure === "stop" ? "redis-restart" : "redis-silent",
        results,
        () => false,
        {
          processStartMs: noa.startMs,
          serverErrorLogs: errorLogs(noa),
          servedDuringOutage: outage.filter(
            (result) => result.ok && result.startedAt + result.ms <= redisBackAt,
          ).length,
          smallBucketDuringOutage: limited.map((result) => result.error ?? "ok"),
          usageRecordsExpected: results.length + 2,
          usageRecordsWritten: written,
        },
      );
      expect(unexpected, describeUnexpected(unexpected)).toEqual([]);
      expect(summary.ok).toBe(results.length);
      expect(outage.length).toBeGreaterThan(0);
    },
  );

  it("PostgreSQL unreachable: cached keys keep being served, usage is buffered and every record is written once it is back", {
    timeout: testTimeoutMs,
  }, async ({ onTestFinished }) => {
    const track = disposer(onTestFinished);
    const stack = await startStack(track, { proxyDatabase: true });
    const { noa, database } = stack;
    const proxy = stack.proxy as NonNullable<Stack["proxy"]>;
    // A valid key never used before the outage: nothing has cached it, so it needs the database.
    const admin = createClient(
      ApiKeyService,
      createGrpcTransport({ baseUrl: noa.baseUrl, interceptors: [withKey(noa.adminKey)] }),
    );
    const { key: uncachedKey } = await admin.createApiKey({
      name: "unused until the outage",
      tenant: "acme",
      scopes: [Scope.INFERENCE],
    });

    const load = startLoad({ concurrency, call: mixedCall(stack, primary, 30_000), pauseMs: 5 });
    track({ close: () => load.stop() });
    await keepLoading(1_000 * scale, () => load.results.length >= 10);

    load.setPhase("outage");
    proxy.refuse();
    await vi.waitFor(async () => {
      const { status, body } = await readiness(noa);
      expect(status).toBe(503);
      expect(body.dependencies.database?.status).toBe("down");
    });
    // Calls start and end while PostgreSQL is gone, and their usage waits in the ledger's buffer.
    let bufferedDuringOutage = 0;
    await keepLoading(2_000 * scale, async () => {
      bufferedDuringOutage = (await readiness(noa)).body.usageBuffered ?? 0;
      return (
        bufferedDuringOutage > 0 && load.results.some((result) => result.phase === "outage" && result.ok)
      );
    });
    // What a caller whose key is not cached sees meanwhile (see the test of it below).
    const uncached = await restChat(
      { baseUrl: noa.baseUrl, key: uncachedKey, model: primary, maxTokens: 4, hangAfterMs: 30_000 },
      false,
    );

    load.setPhase("after");
    const restoredAt = load.elapsed();
    proxy.restore();
    await vi.waitFor(async () => expect((await readiness(noa)).status).toBe(200));
    await keepLoading(1_000 * scale);
    const results = await load.stop();

    const outage = results.filter((result) => result.phase === "outage");
    const written = await expectEveryUsageRecord(
      database,
      results.map((result) => result.id),
    );
    // The ledger failed to write during the outage, kept the records, and says when writes recovered.
    expect(logged(noa, "usage ledger: store write failed; records stay buffered and are retried")).toBe(true);
    await vi.waitFor(() => expect(logged(noa, "usage ledger: store writes recovered")).toBe(true));
    const { summary, unexpected } = summarize("postgres-outage", results, () => false, {
      processStartMs: noa.startMs,
      serverErrorLogs: errorLogs(noa),
      servedDuringOutage: outage.filter((result) => result.ok && result.startedAt + result.ms <= restoredAt)
        .length,
      usageBufferedDuringOutage: bufferedDuringOutage,
      usageRecordsExpected: results.length,
      usageRecordsWritten: written,
      uncachedKeyDuringOutage: uncached.ok ? "ok" : uncached.error,
    });
    expect(unexpected, describeUnexpected(unexpected)).toEqual([]);
    expect(summary.ok).toBe(results.length);
    expect(outage.filter((result) => result.ok).length).toBeGreaterThan(0);
  });

  // A key the authenticator has not cached cannot be checked while the store is down: the caller is told
  // to try again (UNAVAILABLE / 503), not that the server broke, and nothing is cached as a refusal. A
  // database that keeps its connections open but answers nothing (silent) is given up after the query
  // timeout rather than holding the caller until its own deadline.
  it.for([
    ["unreachable", "refuse"],
    ["silent", "silence"],
  ] as const)(
    "PostgreSQL %s: a caller whose key is not cached is told UNAVAILABLE (retry) within the database timeout, not INTERNAL",
    {
      timeout: testTimeoutMs,
    },
    async ([, failure], { onTestFinished }) => {
      const track = disposer(onTestFinished);
      const database = track(await createTestDatabase());
      const proxy = track(await startTcpProxy({ host: "127.0.0.1", port: 5432 }));
      const url = new URL(database.url);
      url.port = String(proxy.port);
      const timeoutMs = 1_000;
      const proxied = track(await createDatabase({ url: url.toString(), maxConnections: 2, timeoutMs }));
      // Setup writes go straight to the database: through the proxy, with its 1 s query timeout, a busy
      // machine failed them (Query read timeout). Only the authenticator reads through the proxy.
      const access = await createTestAccess({
        store: createPrismaApiKeyStore(database.prisma),
        authStore: createPrismaApiKeyStore(proxied.prisma),
      });
      const server = track(await startTestServer({ access }));
      const { key } = await access.apiKeys.create({
        name: "never used",
        tenant: "acme",
        scopes: ["inference"],
      });

      const askRest = () =>
        fetch(`${server.baseUrl}/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: JSON.stringify({
            model: server.modelId,
            messages: [{ role: "user", content: "hi" }],
            max_tokens: 2,
          }),
        });

      proxy[failure]();
      const startedAt = performance.now();
      const rest = await askRest();
      const grpcError = await createClient(
        InferenceService,
        createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [withKey(key)] }),
      )
        .complete({ model: server.modelId, messages: [{ role: Role.USER, content: "hi" }], maxTokens: 2 })
        .then(
          () => undefined,
          (error: unknown) => ConnectError.from(error),
        );
      expect({ rest: rest.status, grpc: grpcError?.code }).toEqual({ rest: 503, grpc: Code.Unavailable });
      // Both answers came within a few database timeouts (a silent database: one timeout each).
      expect(performance.now() - startedAt).toBeLessThan(6 * timeoutMs);

      // Once the database is back, the same key is accepted: the outage was not remembered as a refusal.
      // (A pooled connection the silence left hanging may take a query timeout to be given up.)
      proxy.restore();
      await vi.waitFor(
        async () => {
          const again = await askRest();
          expect(again.status).toBe(200);
        },
        { timeout: 10 * timeoutMs, interval: 100 },
      );
    },
  );

  it("a provider failing, slow and cut mid-stream: the breaker opens, the fallback serves, it recovers, every call ends cleanly within its deadline", {
    timeout: testTimeoutMs,
  }, async ({ onTestFinished }) => {
    const track = disposer(onTestFinished);
    // Per attempt 4 s to the first token and 8 s in all (generous: a healthy answer on a loaded 2-core
    // machine must never time out); two attempts on OpenAI, then Anthropic.
    const timeouts = { firstTokenMs: 4_000, totalMs: 8_000 };
    const deadlineMs = 3 * timeouts.totalMs + 1_000;
    const faultCycle: LoopbackFault[] = [
      { kind: "status", status: 503 },
      { kind: "reset-before-headers" },
      { kind: "stall-before-first-token" },
      { kind: "reset-mid-stream", afterChunks: 2 },
      { kind: "status", status: 429, retryAfter: "0" },
      { kind: "stall-mid-stream", afterChunks: 2 },
      { kind: "malformed-sse" },
    ];
    const stack = await startStack(track, {
      config: {
        routing: {
          routes: { default: [primary, secondary] },
          retry: { maxAttempts: 2, baseDelayMs: 10, maxRetryDelayMs: 1_000 },
          // Half-open after 3 s: probes meet the faults (and reopen it) until the faults stop.
          circuitBreaker: { failureThreshold: 3, cooldownMs: 3_000 },
          timeouts,
        },
      },
    });
    const { noa, openai, database } = stack;
    // While faults last, every OpenAI request gets one, in turn (the queue is kept ahead of the load).
    let enqueued = 0;
    const consumed = () => openai.requests.filter((request) => request.fault).length;
    const topUp = () => {
      while (enqueued - consumed() < 2 * concurrency) {
        openai.enqueueFaults(faultCycle[enqueued % faultCycle.length] as LoopbackFault);
        enqueued++;
      }
    };
    topUp();
    const topping = setInterval(topUp, 10);
    track({ close: async () => clearInterval(topping) });
    const load = startLoad({
      concurrency,
      call: mixedCall(stack, "default", deadlineMs + 10_000),
      pauseMs: 5,
      phase: "faults",
    });
    track({ close: () => load.stop() });
    const openings = () =>
      noa.logs.filter((line) => line.msg === "circuit breaker changed state" && line.state === "open").length;
    // The breaker opens, half-opens after its cooldown, meets a fault and opens again.
    await keepLoading(2_000 * scale, () => openings() >= 2);

    load.setPhase("recovering");
    clearInterval(topping);
    // The faults still queued are used up by the test's own requests to the loopback (while the breaker
    // is open NOA would only take one per cooldown), and every call that started before has ended (no
    // failure is still on its way to the breaker); once OpenAI then answers a call, the breaker is
    // closed for good.
    const drained = enqueued - consumed();
    await Promise.all(Array.from({ length: drained }, () => drainOneFault(openai.baseURL)));
    await keepLoading(0, () => consumed() === enqueued);
    const callsBefore = load.started();
    await keepLoading(
      0,
      () => load.results.filter((result) => result.n < callsBefore).length === callsBefore,
    );
    await keepLoading(0, () =>
      load.results.some((result) => result.n >= callsBefore && result.servedBy === primary),
    );
    load.setPhase("recovered");
    const recoveredSince = load.started();
    await keepLoading(1_000 * scale, () => load.started() - recoveredSince >= 3 * concurrency);
    const results = await load.stop();

    // A call may fail only while faults last, with UNAVAILABLE: OpenAI cut it after its first tokens
    // (no fallback then). REST says so as a 502/503, or streamed as an error event without [DONE].
    const cleanError = (result: CallResult) =>
      result.phase !== "recovered" &&
      ["unavailable", "sse-error unavailable", "http 502 server_error", "http 503 server_error"].includes(
        result.error ?? "",
      );
    const recovered = results.filter((result) => result.phase === "recovered");
    const skippedPrimary = results.filter(
      (result) => result.ok && result.servedBy === secondary && result.attempts === 1,
    );
    const written = await expectEveryUsageRecord(
      database,
      results.map((result) => result.id),
    );
    const { summary, unexpected } = summarize("provider-faults", results, cleanError, {
      processStartMs: noa.startMs,
      serverErrorLogs: errorLogs(noa),
      faultsInjected: consumed() - drained,
      breakerOpenings: openings(),
      openaiRequests: openai.requests.length,
      anthropicRequests: stack.anthropic.requests.length,
      servedByFallback: results.filter((result) => result.ok && result.servedBy === secondary).length,
      servedByFallbackSkippingOpenBreaker: skippedPrimary.length,
      recoveredServedByPrimary: recovered.filter((result) => result.servedBy === primary).length,
      deadlineMs,
      usageRecordsExpected: results.length,
      usageRecordsWritten: written,
    });
    expect(unexpected, describeUnexpected(unexpected)).toEqual([]);
    // Every call ended by itself before the watchdog (deadline + 10 s) would have called it a hang.
    expect(summary.maxMs).toBeLessThan(deadlineMs + 10_000);
    // While open the breaker kept OpenAI out: calls served by Anthropic in one provider call.
    expect(skippedPrimary.length).toBeGreaterThan(0);
    // Closed again, OpenAI serves every call again.
    expect(recovered.length).toBeGreaterThan(0);
    expect(recovered.filter((result) => !result.ok || result.servedBy !== primary)).toEqual([]);
  });

  it("SIGTERM during concurrent streaming: every stream finishes or ends with an error, new connections are refused, the process exits after its grace period", {
    timeout: testTimeoutMs,
  }, async ({ onTestFinished }) => {
    const track = disposer(onTestFinished);
    const graceMs = 5_000;
    // About 1 s per answer (20 tokens, 40 ms apart), so SIGTERM finds streams in flight that can finish
    // within the grace period, besides the stalled ones that cannot.
    const stack = await startStack(track, {
      openaiChunkDelayMs: 40,
      env: { NOA_SHUTDOWN_GRACE_MS: String(graceMs) },
    });
    const { noa, openai, database, grpc } = stack;
    const target = {
      baseUrl: noa.baseUrl,
      key: noa.adminKey,
      model: primary,
      maxTokens: 20,
      hangAfterMs: 30_000,
    };
    let terminating = false;
    const load = startLoad({
      concurrency: concurrency * 2,
      call: async (n) => {
        // After SIGTERM calls are refused at once; a pause keeps the loops from spinning on refusals.
        if (terminating) await sleep(250);
        return n % 2 === 0 ? restChat(target, true) : grpcStream(grpc, target);
      },
      pauseMs: 5,
    });
    track({ close: () => load.stop() });
    await keepLoading(1_000 * scale, () => load.results.length >= concurrency);
    // A few streams stall after two tokens and would never finish: the grace period must end them.
    const stalledFrom = openai.requests.length;
    openai.enqueueFaults(
      ...Array.from({ length: 4 }, (): LoopbackFault => ({ kind: "stall-mid-stream", afterChunks: 2 })),
    );
    await vi.waitFor(() =>
      expect(
        openai.requests.slice(stalledFrom).filter((request) => request.fault && request.chunksSent >= 2),
      ).toHaveLength(4),
    );

    load.setPhase("terminating");
    terminating = true;
    const sigtermAt = load.elapsed();
    const inFlightAtSigterm = load.started() - load.results.length;
    const terminated = noa.terminate();
    // While the grace period runs no new connection is accepted (main.ts logs this just before closing).
    await vi.waitFor(() => expect(logged(noa, "shutting down")).toBe(true));
    const refusedDuringGrace = await new Promise<boolean>((resolve) => {
      const socket = connect(noa.port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(false);
      });
      socket.once("error", () => resolve(true));
    });
    const { exitMs, code } = await terminated;
    load.setPhase("after-exit");
    await sleep(200);
    const results = await load.stop();
    const refusedAfterExit = await fetch(`${noa.baseUrl}/health`).then(
      () => false,
      () => true,
    );

    // Every call the server admitted reached the OpenAI loopback, whose prompt carries its id.
    const admitted = new Set(
      openai.requests.flatMap((request) =>
        [...JSON.stringify(request.body).matchAll(/request ([0-9a-f-]{36})/g)].map(
          (match) => match[1] as string,
        ),
      ),
    );
    // A call taken on a keep-alive connection just before the grace period ended can be ended by the
    // shutdown before its upstream request goes out: it is in the ledger (as cancelled) without reaching
    // OpenAI, and its client saw it end without an answer.
    const unanswered = new Set(
      results.filter((result) => !result.ok && result.tokens === 0).map((r) => r.id),
    );
    const written = await expectEveryUsageRecord(database, [...admitted], (id) => unanswered.has(id));
    // A call ends finished, or with UNAVAILABLE (gRPC status, or an SSE error event without [DONE]),
    // or was refused before the server took it (connection refused or reset on a keep-alive socket
    // being closed: the request never started, so a retry is safe). Never a silent cut, never a hang.
    // connect-node reports a stream the server refused after its GOAWAY (REFUSED_STREAM: not processed,
    // safe to retry) as INTERNAL rather than UNAVAILABLE; it is a refusal all the same.
    const refusedStream = (result: CallResult) =>
      result.error === "internal" && result.detail?.includes("REFUSED_STREAM") === true;
    const cleanEnd = (result: CallResult) =>
      (refusedStream(result) && result.tokens === 0 && !admitted.has(result.id)) ||
      result.error === "unavailable" ||
      result.error === "sse-error unavailable" ||
      result.error === "http 503 server_error" ||
      (result.error?.startsWith("network ") === true && result.tokens === 0 && !admitted.has(result.id));
    const inFlight = results.filter(
      (result) => result.phase === "before" && result.startedAt + result.ms >= sigtermAt,
    );
    const { summary, unexpected } = summarize("sigterm-streaming", results, cleanEnd, {
      processStartMs: noa.startMs,
      serverErrorLogs: errorLogs(noa),
      inFlightAtSigterm,
      finishedDuringGrace: inFlight.filter((result) => result.ok).length,
      endedWithErrorAtGrace: inFlight.filter((result) => !result.ok && result.tokens > 0).length,
      refusedAfterSigterm: results.filter((result) => result.phase !== "before" && !result.ok).length,
      refusedStreamsReportedInternal: results.filter(refusedStream).length,
      graceMs,
      exitMs,
      exitCode: code,
      usageRecordsExpected: admitted.size,
      usageRecordsWritten: written,
    });
    expect(unexpected, describeUnexpected(unexpected)).toEqual([]);
    expect(summary.requests).toBeGreaterThan(0);
    // Streams still running when the grace period ends (the stalled ones at least) end with UNAVAILABLE.
    expect(inFlight.filter((result) => !result.ok && result.tokens > 0).length).toBeGreaterThanOrEqual(4);
    expect({ refusedDuringGrace, refusedAfterExit, code }).toEqual({
      refusedDuringGrace: true,
      refusedAfterExit: true,
      code: 0,
    });
    // The grace period, the second the server gives in-flight calls to end, then closing the ledger
    // (which may retry writes for up to 5 s) and the rest: a bound that catches a process that does not
    // exit by itself, generous enough for a loaded 2-core machine (the figure itself is in the summary).
    expect(exitMs).toBeLessThan(graceMs + 1_000 + 25_000);
  });

  // Production BullMQ runs on a Redis that persists every write before acknowledging it (AOF, fsync
  // always). Killed and restarted on the same directory, it comes back with the queues as they were:
  // jobs that were running go on (their locks survived), queued ones are taken, and what happened while
  // it was down (a submission refused or held, a job finished, a callback delivered) is not lost or
  // done twice. What README "Jobs" promises and this case holds the product to: every accepted job
  // COMPLETED once (PostgreSQL is the record, a state change is guarded there); the inference itself
  // at least once (BullMQ runs a job again when its lock is lost; it should not be lost here); callbacks
  // at least once (receivers dedupe on the body's delivery_id), so at most twice, each with the same job in it.
  it("Redis killed and restarted while jobs run: jobs resume, none lost, none run twice to completion", {
    timeout: testTimeoutMs,
  }, async ({ onTestFinished }) => {
    const track = disposer(onTestFinished);
    const stack = await startJobStack(track);
    const { redis, upstream, webhooks, noa, worker, jobs, database } = stack;
    const tag = randomBytes(4).toString("hex");
    const marker = (index: number) => `job ${tag} #${index}#`;
    const indexOf = (prompt: string) => Number(/#(\d+)#/.exec(prompt)?.[1] ?? -1);
    type Phase = "before" | "outage" | "after";
    const accepted = new Map<number, { id: string; phase: Phase; startedAt: number; endedAt: number }>();
    const refused: Array<{ index: number; phase: Phase; startedAt: number }> = [];
    const unclean: string[] = [];
    let submitted = 0;
    const submit = async (index: number, phase: Phase) => {
      submitted++;
      const startedAt = performance.now();
      try {
        const { job } = await jobs.submitJob(
          {
            spec: {
              kind: {
                case: "inference",
                value: {
                  model: primary,
                  messages: [{ role: Role.USER, content: marker(index) }],
                  maxTokens: 4,
                },
              },
            },
            callbackUrl: `${webhooks.url}/${index}`,
          },
          { timeoutMs: 90_000 },
        );
        accepted.set(index, { id: job?.id ?? "", phase, startedAt, endedAt: performance.now() });
      } catch (error) {
        const connectError = ConnectError.from(error);
        if (connectError.code === Code.Unavailable) refused.push({ index, phase, startedAt });
        else unclean.push(`#${index} (${phase}): ${Code[connectError.code]} ${connectError.rawMessage}`);
      }
    };
    /** Submits jobs from..to-1, `parallel` at a time. */
    const submitRange = async (from: number, to: number, phase: Phase, parallel = 5) => {
      for (let start = from; start < to; start += parallel) {
        await Promise.all(
          Array.from({ length: Math.min(parallel, to - start) }, (_, k) => submit(start + k, phase)),
        );
      }
    };
    const rpcReadyUrl = `${noa.baseUrl}/health/ready`;
    expect([await readyStatus(rpcReadyUrl), await readyStatus(stack.workerReadyUrl)]).toEqual([200, 200]);

    // Before: 30 jobs; once a third of them has called back, the upstream and the callback receiver hold
    // what reaches them, so the kill finds inference calls and callbacks in flight.
    await submitRange(0, 30, "before");
    await vi.waitFor(() => expect(webhooks.accepted.length).toBeGreaterThanOrEqual(10), {
      timeout: 60_000,
      interval: 100,
    });
    upstream.pause();
    webhooks.pause();
    const held = () => upstream.calls.filter((call) => call.state === "held").length;
    await vi.waitFor(() => expect(held()).toBeGreaterThan(0), { timeout: 30_000, interval: 50 });
    const heldAtKill = { inference: held(), callbacks: webhooks.held().length };
    const completedBeforeKill = await database.pool
      .query<{ n: number }>("SELECT count(*)::int AS n FROM jobs WHERE state = 'completed'")
      .then(({ rows }) => rows[0]?.n ?? 0);

    // Submissions go on as Redis dies: three are on their way when it is killed (one may pass the
    // availability check just before and meet the dead connection between its PostgreSQL insert and its
    // enqueue), twelve more start one every 100 ms once it is dead, none waiting for another.
    const inFlightAtKill = submitRange(30, 33, "outage", 3);
    await redis.stop();
    const killedAt = performance.now();
    const duringOutage = Promise.all(
      Array.from({ length: 12 }, (_, k) => sleep(k * 100).then(() => submit(33 + k, "outage"))),
    );
    const outageSubmissions = Promise.all([inFlightAtKill, duringOutage]);
    let outageSubmissionsSettled = false;
    const outageSettled = outageSubmissions.then(() => {
      outageSubmissionsSettled = true;
    });
    const readiness = { rpcDuringOutage: 0, workerDuringOutage: 0, rpcAfter: 0, workerAfter: 0 };
    await vi.waitFor(
      async () => {
        readiness.rpcDuringOutage = await readyStatus(rpcReadyUrl);
        readiness.workerDuringOutage = await readyStatus(stack.workerReadyUrl);
        expect(readiness).toMatchObject({ rpcDuringOutage: 503, workerDuringOutage: 503 });
      },
      { timeout: 30_000, interval: 200 },
    );
    // The held calls and callbacks go on and finish while Redis is still down.
    upstream.resume();
    webhooks.resume();
    await vi.waitFor(() => expect(held()).toBe(0), { timeout: 30_000, interval: 50 });
    // Every outage submission has started; those that hang on a connection waiting for Redis must not
    // keep it down for good.
    await vi.waitFor(() => expect(submitted).toBe(45), { timeout: 30_000, interval: 50 });
    await Promise.race([outageSettled, sleep(3_000)]);

    const outageSubmissionsSettledBeforeRestart = outageSubmissionsSettled;
    const restartedAt = performance.now();
    await redis.start();
    await vi.waitFor(
      async () => {
        readiness.rpcAfter = await readyStatus(rpcReadyUrl);
        readiness.workerAfter = await readyStatus(stack.workerReadyUrl);
        expect(readiness).toMatchObject({ rpcAfter: 200, workerAfter: 200 });
      },
      { timeout: 30_000, interval: 200 },
    );
    await submitRange(45, 60, "after");
    await outageSubmissions;

    // Every accepted job reaches COMPLETED (GetJob answers from PostgreSQL).
    const ids = [...accepted.values()].map((job) => job.id);
    const finalState = new Map<string, JobState>();
    await vi.waitFor(
      async () => {
        for (const id of ids) {
          if (finalState.get(id) === JobState.COMPLETED) continue;
          const { job } = await jobs.getJob({ id });
          finalState.set(id, job?.state ?? JobState.UNSPECIFIED);
        }
        const pending = ids.filter((id) => finalState.get(id) !== JobState.COMPLETED);
        expect(
          pending,
          `not completed: ${pending.map((id) => `${id} ${JobState[finalState.get(id) ?? 0]}`)}`,
        ).toEqual([]);
      },
      { timeout: 90_000, interval: 500 },
    );
    // Then the queues drain: nothing waits, runs or is retried any more (a rerun or a second callback
    // would have happened by now).
    const inspector = new Redis(redis.url, { maxRetriesPerRequest: null });
    track({ close: async () => inspector.disconnect() });
    const queues = createJobQueues({ connection: inspector, prefix: stack.prefix });
    track({ close: () => queues.close() });
    await vi.waitFor(
      async () => {
        for (const queue of [queues.jobs, queues.webhooks]) {
          const counts = await queue.getJobCounts("waiting", "active", "delayed", "prioritized");
          expect(counts, queue.name).toEqual({ waiting: 0, active: 0, delayed: 0, prioritized: 0 });
        }
        const callbacksFor = new Set(webhooks.accepted.map((hook) => hook.jobId));
        expect(ids.filter((id) => !callbacksFor.has(id))).toEqual([]);
      },
      { timeout: 60_000, interval: 250 },
    );

    // PostgreSQL holds the accepted jobs and nothing else: a refused submission left no row behind.
    const { rows } = await database.pool.query<{ id: string; state: string }>(
      "SELECT id, state::text AS state FROM jobs",
    );
    const rowsNotAccepted = rows.filter((row) => !ids.includes(row.id));
    // Inference calls that went through to the end, per job; COMPLETED transitions as the worker logged them.
    const completions = new Map<number, number>();
    for (const call of upstream.calls)
      if (call.prompt.includes(`job ${tag} `) && call.state === "completed")
        completions.set(indexOf(call.prompt), (completions.get(indexOf(call.prompt)) ?? 0) + 1);
    const completedLines = new Map<string, number>();
    for (const line of worker.logs)
      if (line.msg === "job completed")
        completedLines.set(String(line.jobId), (completedLines.get(String(line.jobId)) ?? 0) + 1);
    const callbacks = new Map<string, string[]>();
    for (const hook of webhooks.accepted)
      callbacks.set(hook.jobId, [...(callbacks.get(hook.jobId) ?? []), hook.body]);
    const acceptedIndexes = [...accepted.keys()];
    const lost = ids.filter((id) => finalState.get(id) !== JobState.COMPLETED);
    const inferenceMissing = acceptedIndexes.filter((index) => !completions.has(index));
    const inferenceRepeated = acceptedIndexes.filter((index) => (completions.get(index) ?? 0) > 1);
    const completedTwice = ids.filter((id) => (completedLines.get(id) ?? 0) > 1);
    const callbackDuplicates = [...callbacks].filter(([, bodies]) => bodies.length > 1);
    const callbackTooMany = callbackDuplicates.filter(([, bodies]) => bodies.length > 2);
    const callbackBodiesDiffer = callbackDuplicates.filter(([, bodies]) => new Set(bodies).size > 1);
    const phaseCount = (phase: Phase) => [...accepted.values()].filter((job) => job.phase === phase).length;

    const startedInOutage = (startedAt: number) => startedAt > killedAt && startedAt < restartedAt;
    const outageAccepted = [...accepted.values()].filter((job) => startedInOutage(job.startedAt));
    const inFlightAccepted = [30, 31, 32].flatMap((index) => accepted.get(index) ?? []);
    console.log(
      "reliability-summary",
      JSON.stringify({
        case: "redis-restart-jobs",
        redis: "appendonly yes, appendfsync always",
        processStartMs: noa.startMs,
        serverErrorLogs: errorLogs(noa),
        jobsSubmitted: submitted,
        jobsAccepted: accepted.size,
        acceptedByPhase: {
          before: phaseCount("before"),
          outage: phaseCount("outage"),
          after: phaseCount("after"),
        },
        refusedDuringOutage: refused.filter((refusal) => refusal.phase === "outage").length,
        // The three on their way as Redis was killed.
        inFlightAtKill: {
          refused: refused.filter((refusal) => refusal.index >= 30 && refusal.index < 33).length,
          acceptedBeforeRestart: inFlightAccepted.filter((job) => job.endedAt < restartedAt).length,
          acceptedAfterRestart: inFlightAccepted.filter((job) => job.endedAt >= restartedAt).length,
        },
        // The submissions begun while Redis was dead: refused at once, or held until it was back.
        startedDuringOutage: {
          refused: refused.filter((refusal) => startedInOutage(refusal.startedAt)).length,
          acceptedBeforeRestart: outageAccepted.filter((job) => job.endedAt < restartedAt).length,
          acceptedAfterRestart: outageAccepted.filter((job) => job.endedAt >= restartedAt).length,
        },
        refusedOtherwise: refused.filter((refusal) => refusal.phase !== "outage").length,
        uncleanAnswers: unclean.length,
        outageSubmissionsSettledBeforeRestart,
        completedBeforeKill,
        heldAtKill,
        jobsCompleted: ids.filter((id) => finalState.get(id) === JobState.COMPLETED).length,
        jobsLost: lost.length,
        rowsNotAccepted: rowsNotAccepted.length,
        duplicatedCompletions: completedTwice.length,
        upstreamCallsCompleted: [...completions.values()].reduce((sum, n) => sum + n, 0),
        upstreamCallsCut: upstream.calls.filter(
          (call) => call.prompt.includes(`job ${tag} `) && call.state === "cut",
        ).length,
        inferenceRepeated: inferenceRepeated.length,
        callbacksReceived: webhooks.accepted.length,
        callbackDuplicates: callbackDuplicates.length,
        callbackDuplicatesWithDifferentBody: callbackBodiesDiffer.length,
        readiness,
      }),
    );

    expect(unclean).toEqual([]);
    expect(refused.filter((refusal) => refusal.phase !== "outage")).toEqual([]);
    expect(phaseCount("before") + phaseCount("after")).toBe(45);
    expect(lost).toEqual([]);
    expect(inferenceMissing).toEqual([]);
    expect(rowsNotAccepted).toEqual([]);
    expect(completedTwice).toEqual([]);
    expect(callbackTooMany.map(([id]) => id)).toEqual([]);
    expect(callbackBodiesDiffer.map(([id]) => id)).toEqual([]);
    expect(readiness).toEqual({
      rpcDuringOutage: 503,
      workerDuringOutage: 503,
      rpcAfter: 200,
      workerAfter: 200,
    });
  });
});
