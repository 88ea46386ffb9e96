import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { generateApiKey } from "@noa/access";
import { createTestDatabase, type TestDatabase } from "@noa/db/testing";
import { Redis } from "ioredis";
import { type AppProcess, baseAppEnv, spawnAppProcess } from "../__fixtures__/spawn-app-process.js";
import { type RoundRobinProxy, startRoundRobinProxy } from "./scale-out-proxy.js";
import { type ScaleOutUpstream, startScaleOutUpstream } from "./scale-out-upstream.js";
import { type ScaleOutWebhookReceiver, startScaleOutWebhookReceiver } from "./scale-out-webhook-receiver.js";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** The secret the workers sign callbacks with. */
export const scaleOutWebhookSecret = "whsec_scale_out_0123456789abcdef0123456789abcdef";

/** A deployment of several rpc-server and worker processes sharing one database, one Redis and one job prefix. */
export interface ScaleOutCluster {
  replicas: AppProcess[];
  workers: AppProcess[];
  /** The round-robin load balancer in front of the replicas. */
  proxy: RoundRobinProxy;
  upstream: ScaleOutUpstream;
  webhooks: ScaleOutWebhookReceiver;
  database: TestDatabase;
  /** NOA_MASTER_KEY of every replica. */
  adminKey: string;
  /** NOA_JOBS_PREFIX of every process. */
  prefix: string;
  /** Starts one more worker process on the same database, Redis and prefix (added to `workers`). */
  startWorker(name: string): Promise<AppProcess>;
  /** Stops everything (SIGTERM, then SIGKILL), drops the database and the prefix's Redis keys. */
  close(): Promise<void>;
}

/**
 * Starts `replicas` rpc-servers and `workers` workers (the real `src/main.ts` of each app, in parallel)
 * on a fresh PostgreSQL database they migrate themselves, the local Redis under a job prefix of their
 * own, one OpenAI-wire upstream and one callback receiver, with `config` as their NOA_CONFIG; a
 * round-robin TCP proxy fronts the replicas. Every process is killed when the test process exits, even
 * if close() never runs.
 */
export async function startScaleOutCluster(options: {
  replicas: number;
  workers: number;
  upstream: { models: string[]; failing: string[] };
  config: object;
  env?: Record<string, string>;
}): Promise<ScaleOutCluster> {
  const cleanups: Array<() => Promise<unknown>> = [];
  const processes: AppProcess[] = [];
  const children = new Set<ChildProcess>();
  // Also kills children still starting when the test process exits (a start that timed out).
  const killAll = () => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  process.once("exit", killAll);
  cleanups.push(async () => process.off("exit", killAll));
  const closeAll = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  };

  try {
    const database = await createTestDatabase({ migrate: false });
    cleanups.push(() => database.close());
    const dataDir = await mkdtemp(path.join(tmpdir(), "noa-scale-out-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const prefix = `noa-test-${randomBytes(5).toString("hex")}`;
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
    cleanups.push(async () => {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    });
    const upstream = await startScaleOutUpstream(options.upstream);
    cleanups.push(() => upstream.close());
    const webhooks = await startScaleOutWebhookReceiver();
    cleanups.push(() => webhooks.close());
    const configFile = path.join(dataDir, "noa.json");
    await writeFile(configFile, JSON.stringify(options.config));
    const adminKey = generateApiKey().key;

    const env = async (name: string): Promise<NodeJS.ProcessEnv> => {
      const own = path.join(dataDir, name);
      await mkdir(path.join(own, "models"), { recursive: true });
      return {
        ...baseAppEnv(),
        PORT: "0",
        DATABASE_URL: database.url,
        REDIS_URL: redisUrl,
        NOA_JOBS_PREFIX: prefix,
        NOA_DATA_DIR: own,
        NOA_MODELS_DIR: path.join(own, "models"),
        NOA_CONFIG: configFile,
        NOA_MASTER_KEY: adminKey,
        OPENAI_API_KEY: upstream.apiKey,
        OPENAI_BASE_URL: upstream.baseURL,
        NOA_WEBHOOK_SECRET: scaleOutWebhookSecret,
        NOA_WEBHOOK_ALLOW_HTTP: "true",
        NOA_WEBHOOK_ALLOW_LOOPBACK: "true",
        NOA_WORKER_PORT: "off",
        NOA_SHUTDOWN_GRACE_MS: "0",
        ...options.env,
      };
    };
    const spawnTracked = async (name: string, kind: AppProcess["kind"]) => {
      const started = await spawnAppProcess({
        name,
        kind,
        env: await env(name),
        onSpawn: (child) => children.add(child),
      });
      processes.push(started);
      return started;
    };
    // Stopped before anything they use goes away; a process that failed to start was killed already.
    cleanups.push(async () => {
      await Promise.all(processes.map((child) => child.stop()));
    });
    const starts = [
      ...Array.from({ length: options.replicas }, (_, i) =>
        spawnTracked(`rpc-server ${i + 1}`, "rpc-server"),
      ),
      ...Array.from({ length: options.workers }, (_, i) => spawnTracked(`worker ${i + 1}`, "worker")),
    ];
    const settled = await Promise.allSettled(starts);
    const failed = settled.find((result) => result.status === "rejected");
    if (failed) throw failed.reason;
    const started = settled.map((result) => (result as PromiseFulfilledResult<AppProcess>).value);
    const replicas = started.filter((child) => child.kind === "rpc-server");
    const workers = started.filter((child) => child.kind === "worker");
    const proxy = await startRoundRobinProxy(replicas.map((replica) => replica.port ?? 0));
    cleanups.push(() => proxy.close());
    const startWorker = async (name: string) => {
      const worker = await spawnTracked(name, "worker");
      workers.push(worker);
      return worker;
    };
    return {
      replicas,
      workers,
      proxy,
      upstream,
      webhooks,
      database,
      adminKey,
      prefix,
      startWorker,
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
