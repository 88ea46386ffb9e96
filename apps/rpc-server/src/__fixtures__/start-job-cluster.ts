import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  createRedisRateLimiter,
  type KeyLimits,
  rateLimitDefaultsFromEnv,
  rateLimitKeyPrefix,
  type Scope,
} from "@noa/access";
import { createPrismaApiKeyStore, createPrismaUsageStore } from "@noa/db";
import { createTestDatabase } from "@noa/db/testing";
import { createJobQueues, parseJobsConfig } from "@noa/jobs";
import { JobService } from "@noa/proto";
import { createGatewayRegistry } from "@noa/providers";
import { OPENAI_LOOPBACK_API_KEY, startOpenAILoopbackServer } from "@noa/providers/testing";
import { Redis } from "ioredis";
import { pino } from "pino";
import { createJobBackend } from "../create-job-backend.js";
import { build } from "../server.js";
import { createTestAccess, withKey } from "./create-test-access.js";
import { spawnAppProcess } from "./spawn-app-process.js";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** The secret the test workers sign webhooks with. */
export const testWebhookSecret = "whsec_test_0123456789abcdef0123456789abcdef";

/** A webhook as the loopback receiver got it. */
export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
  path: string;
}

/** A loopback HTTP server that records POSTs and answers with queued statuses (then 200). */
async function startWebhookReceiver() {
  const received: ReceivedWebhook[] = [];
  const statuses: number[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        path: req.url ?? "",
      });
      res.writeHead(statuses.shift() ?? 200).end();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: (name: string) => `http://127.0.0.1:${port}/hooks/${name}`,
    received,
    /** Answers for the next POSTs, in order. */
    failNext: (...codes: number[]) => statuses.push(...codes),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A worker process (`node --import @noa/runtime/register apps/worker/src/main.ts`) and its JSON log lines. */
export interface TestWorker {
  process: ChildProcess;
  logs: Array<Record<string, unknown>>;
  /** The queue dashboard's port. */
  port: number;
  /** The exit code (or the signal's name) once it has exited. */
  exited: Promise<number | string>;
}

/**
 * Everything the jobs acceptance needs, for real: a fresh PostgreSQL database, a BullMQ prefix of its
 * own on the local Redis, an OpenAI-wire loopback server as the model provider (with fault injection),
 * a loopback webhook receiver, an rpc-server on port 0 serving JobService, and `workers` worker
 * processes. `env` overrides the settings of rpc-server's job service and the workers alike,
 * `workerEnv` the workers' only; `chunkDelayMs` paces the loopback model's stream. close() stops and
 * removes it all.
 */
export async function startJobCluster(options: {
  workers: number;
  concurrency?: number;
  chunkDelayMs?: number;
  env?: Record<string, string>;
  workerEnv?: Record<string, string>;
}) {
  const cleanups: Array<() => Promise<unknown>> = [];
  const database = await createTestDatabase();
  cleanups.push(() => database.close());
  const prefix = `noa-test-${randomBytes(5).toString("hex")}`;
  const dataDir = await mkdtemp(path.join(tmpdir(), "noa-jobs-"));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  const openai = await startOpenAILoopbackServer({ chunkDelayMs: options.chunkDelayMs ?? 1 });
  cleanups.push(() => openai.close());
  const webhooks = await startWebhookReceiver();
  cleanups.push(() => webhooks.close());
  // Job-level retries are what is tested: the router itself does not retry, and its breaker stays closed.
  const configFile = path.join(dataDir, "noa.json");
  await writeFile(
    configFile,
    JSON.stringify({ routing: { retry: { maxAttempts: 1 }, circuitBreaker: { failureThreshold: 1_000 } } }),
  );
  const env: Record<string, string> = {
    DATABASE_URL: database.url,
    REDIS_URL: redisUrl,
    NOA_JOBS_PREFIX: prefix,
    NOA_DATA_DIR: dataDir,
    NOA_MODELS_DIR: dataDir,
    NOA_CONFIG: configFile,
    OPENAI_API_KEY: OPENAI_LOOPBACK_API_KEY,
    OPENAI_BASE_URL: openai.baseURL,
    NOA_WEBHOOK_SECRET: testWebhookSecret,
    NOA_WEBHOOK_ALLOW_HTTP: "true",
    NOA_WEBHOOK_ALLOW_LOOPBACK: "true",
    NOA_JOB_BACKOFF_BASE_MS: "50",
    NOA_JOB_BACKOFF_MAX_MS: "200",
    NOA_WEBHOOK_BACKOFF_BASE_MS: "50",
    NOA_WORKER_CONCURRENCY: String(options.concurrency ?? 1),
    NOA_WORKER_RATE_LIMIT: "0",
    NOA_WORKER_LOCK_MS: "2000",
    NOA_WORKER_STALLED_INTERVAL_MS: "500",
    NOA_SHUTDOWN_GRACE_MS: "5000",
    NOA_WORKER_PORT: "0",
    NOA_LLAMA_THREADS: "1",
    LOG_LEVEL: "info",
    // The limits rpc-server admits with below: the workers charge inference jobs' tokens with the same.
    NOA_RATE_LIMIT_BURST: "1000",
    NOA_RATE_LIMIT_PER_SECOND: "1000",
    ...options.env,
  };

  const logger = pino({ level: "silent" });
  // Shared through Redis as in production, so that rpc-server sees what the workers charge.
  const limits = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  cleanups.push(async () => limits.disconnect());
  const access = await createTestAccess({
    store: createPrismaApiKeyStore(database.prisma),
    usageStore: createPrismaUsageStore(database.prisma),
    rateLimiter: createRedisRateLimiter({
      redis: limits,
      defaults: rateLimitDefaultsFromEnv(env),
      prefix: rateLimitKeyPrefix(prefix),
    }),
  });
  cleanups.push(() => access.close());
  const backend = await createJobBackend({
    redisUrl,
    database,
    config: parseJobsConfig(env),
    logger,
  });
  const { registry } = createGatewayRegistry({
    localModelPath: undefined,
    modelsDir: dataDir,
    llamaThreads: 1,
    maxLoadedModels: 1,
    sequencesPerModel: 1,
    openai: { apiKey: OPENAI_LOOPBACK_API_KEY, baseURL: openai.baseURL },
    anthropic: undefined,
    routing: undefined,
    logger,
  });
  const server = build({ registry, logger, access: access.access, jobs: backend.service });
  const { port } = await server.listen(0, "127.0.0.1");
  const baseUrl = `http://127.0.0.1:${port}`;
  cleanups.push(async () => {
    await server.close({ graceMs: 0 });
    await backend.close();
    await registry.close();
  });

  // Inspects the queues the workers use (dead-letter queue contents); cleans the prefix's keys at the end.
  const inspector = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queues = createJobQueues({ connection: inspector, prefix });
  cleanups.push(async () => {
    await queues.close();
    const keys = await inspector.keys(`${prefix}:*`);
    if (keys.length > 0) await inspector.del(...keys);
    inspector.disconnect();
  });

  const workers: TestWorker[] = [];
  /** Starts one more worker process; `extraEnv` overrides the cluster's settings for it. */
  async function startWorker(extraEnv: Record<string, string> = {}): Promise<TestWorker> {
    const started = await spawnAppProcess({
      name: `worker ${workers.length + 1}`,
      kind: "worker",
      env: { ...process.env, ...env, ...options.workerEnv, ...extraEnv },
    });
    const ready = started.logs.find((line) => line.msg === "worker started") ?? {};
    const dashboard = new URL(String(ready.dashboard));
    const worker = {
      process: started.child,
      logs: started.logs,
      port: Number(dashboard.port),
      exited: started.exited,
    };
    workers.push(worker);
    return worker;
  }
  cleanups.push(async () => {
    for (const worker of workers) {
      if (worker.process.exitCode === null && worker.process.signalCode === null)
        worker.process.kill("SIGTERM");
    }
    await Promise.all(workers.map((worker) => worker.exited));
  });
  try {
    await Promise.all(Array.from({ length: options.workers }, () => startWorker()));
  } catch (error) {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    throw error;
  }

  return {
    baseUrl,
    database,
    prefix,
    openai,
    webhooks,
    workers,
    queues,
    adminKey: access.adminKey,
    startWorker,
    /** A key of its own for `tenant`; by default one that may submit inference jobs (jobs and inference). */
    async keyFor(
      tenant: string,
      scopes: Scope[] = ["jobs", "inference"],
      limits: KeyLimits = {},
    ): Promise<string> {
      const { key } = await access.apiKeys.create({
        name: `test ${tenant}`,
        tenant,
        scopes,
        allowedModels: [],
        limits,
      });
      return key;
    },
    /** A JobService client sending `key`. */
    client(key: string) {
      return createClient(
        JobService,
        createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [withKey(key)] }),
      );
    },
    async close() {
      for (const cleanup of cleanups.reverse()) await cleanup();
    },
  };
}

export type JobCluster = Awaited<ReturnType<typeof startJobCluster>>;
