import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createPgJobStore, createPrismaApiKeyStore, createPrismaUsageStore } from "@noa/db";
import { createTestDatabase } from "@noa/db/testing";
import { createJobEvents, createJobQueues, createJobService, parseJobsConfig } from "@noa/jobs";
import { createGatewayRegistry } from "@noa/providers";
import { OPENAI_LOOPBACK_API_KEY, startOpenAILoopbackServer } from "@noa/providers/testing";
import { build as buildRpcServer } from "@noa/rpc-server/server";
import { spawnAppProcess } from "@noa/rpc-server/spawn-app-process";
import { createTestAccess } from "@noa/rpc-server/testing";
import { Redis } from "ioredis";
import { pino } from "pino";
import { build } from "../server.js";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** The model jobs run on: the real OpenAI provider against a loopback server that can inject faults. */
export const jobModel = "openai/gpt-4o-mini";

/**
 * The BFF in front of an rpc-server that serves JobService, with everything behind it real: a fresh
 * PostgreSQL database, a BullMQ prefix of its own on the local Redis, one apps/worker process, and the
 * OpenAI provider against a loopback server (jobs get 2 attempts, retried after 50 ms). Composed as
 * rpc-server's and the worker's main.ts do. close() stops and removes it all.
 */
export async function startJobStack(
  options: {
    staticDir?: string /** Extra environment for the worker process. */;
    workerEnv?: Record<string, string>;
  } = {},
) {
  const cleanups: Array<() => Promise<unknown>> = [];
  const cleanUp = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  };
  try {
    const database = await createTestDatabase();
    cleanups.push(() => database.close());
    const prefix = `noa-bff-${randomBytes(5).toString("hex")}`;
    const dataDir = await mkdtemp(path.join(tmpdir(), "noa-bff-jobs-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const openai = await startOpenAILoopbackServer({ chunkDelayMs: 40 });
    cleanups.push(() => openai.close());
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
      NOA_WEBHOOK_SECRET: "whsec_bff_test_0123456789abcdef0123456789abcdef",
      NOA_JOB_MAX_ATTEMPTS: "2",
      NOA_JOB_BACKOFF_BASE_MS: "50",
      NOA_JOB_BACKOFF_MAX_MS: "200",
      NOA_WORKER_CONCURRENCY: "2",
      NOA_WORKER_RATE_LIMIT: "0",
      NOA_WORKER_PORT: "0",
      NOA_SHUTDOWN_GRACE_MS: "2000",
      NOA_LLAMA_THREADS: "1",
      LOG_LEVEL: "info",
    };
    const logger = pino({ level: "silent" });
    const access = await createTestAccess({
      store: createPrismaApiKeyStore(database.prisma),
      usageStore: createPrismaUsageStore(database.prisma),
    });
    cleanups.push(() => access.close());

    // The job service as rpc-server's createJobBackend builds it.
    const config = parseJobsConfig(env);
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const subscriber = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const queues = createJobQueues({ connection, prefix, webhookRetry: config.webhookRetry });
    const events = createJobEvents({ publisher: connection, subscriber, prefix });
    const jobs = createJobService({
      store: createPgJobStore(database.pool),
      queues,
      events,
      callbackPolicy: config.callbackPolicy,
      maxAttempts: config.maxAttempts,
      isAvailable: () => connection.status === "ready",
    });
    cleanups.push(async () => {
      await events.close().catch(() => {});
      await queues.close().catch(() => {});
      const keys = await connection.keys(`${prefix}:*`);
      if (keys.length > 0) await connection.del(...keys);
      connection.disconnect();
      subscriber.disconnect();
    });
    const { registry } = createGatewayRegistry({
      localModelPath: undefined,
      modelsDir: dataDir,
      llamaThreads: 1,
      maxLoadedModels: 1,
      sequencesPerModel: 1,
      openai: { apiKey: OPENAI_LOOPBACK_API_KEY, baseURL: openai.baseURL },
      anthropic: undefined,
      routing: { retry: { maxAttempts: 1 }, circuitBreaker: { failureThreshold: 1_000 } },
      logger,
    });
    const rpcServer = buildRpcServer({ registry, logger, access: access.access, jobs });
    const rpc = await rpcServer.listen(0, "127.0.0.1");
    cleanups.push(async () => {
      await rpcServer.close({ graceMs: 0 });
      await registry.close();
    });

    // One apps/worker process, started as its package does, once it logged that it started.
    const worker = await spawnAppProcess({
      name: "worker",
      kind: "worker",
      env: { ...process.env, ...env, ...options.workerEnv },
    });
    cleanups.push(() => worker.stop());

    const bff = build({
      transport: createGrpcTransport({ baseUrl: `http://127.0.0.1:${rpc.port}` }),
      logger,
      sessionSecret: "job-test-session-secret-0123456789abcdef",
      staticDir: options.staticDir,
    });
    const address = await bff.listen(0, "127.0.0.1");
    cleanups.push(() => bff.close());

    return {
      bffUrl: `http://127.0.0.1:${address.port}`,
      openai,
      /** A key of its own for `tenant`, with the jobs and models:read scopes. */
      async keyFor(tenant: string): Promise<string> {
        const { key } = await access.apiKeys.create({
          name: `bff ${tenant}`,
          tenant,
          scopes: ["jobs", "models:read", "inference"],
        });
        return key;
      },
      close: cleanUp,
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

export type JobStack = Awaited<ReturnType<typeof startJobStack>>;
