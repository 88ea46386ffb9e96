/**
 * Jobs end to end (JobService.SubmitJob → COMPLETED in PostgreSQL) against raw BullMQ (Queue.add →
 * Worker processes a no-op) on the same Redis, with 1 and 2 workers. NOA's jobs are inference jobs
 * answered by an instant OpenAI-wire loopback upstream (1 token), run by real worker processes
 * (`apps/worker`); raw BullMQ workers run no-op processors in this process. Writes docs/benchmarks.md
 * between the jobs markers.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createPgJobStore, createPrismaApiKeyStore, createPrismaUsageStore } from "@noa/db";
import { createTestDatabase } from "@noa/db/testing";
import { createJobEvents, createJobQueues, createJobService, parseJobsConfig } from "@noa/jobs";
import { JobService, Role } from "@noa/proto";
import { createGatewayRegistry } from "@noa/providers";
import { OPENAI_LOOPBACK_API_KEY, startOpenAILoopbackServer } from "@noa/providers/testing";
import { build } from "@noa/rpc-server/server";
import { createTestAccess, withKey } from "@noa/rpc-server/testing";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { pino } from "pino";
import { writeSection } from "./write-section.js";

const jobs = Number(process.env.BENCH_JOBS ?? 1_000);
const concurrency = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 50);
const inFlight = Number(process.env.BENCH_SUBMIT_IN_FLIGHT ?? 32);
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const workerDir = fileURLToPath(new URL("../apps/worker", import.meta.url));

/** CPU seconds used so far by processes (Linux /proc; utime + stime). */
function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {}
  }
  return ticks / 100;
}

function pidsOf(name: string): number[] {
  try {
    return execFileSync("pgrep", ["-x", name], { encoding: "utf8" }).trim().split("\n").map(Number);
  } catch {
    return [];
  }
}

/** CPU per job of each part, measured around a run. */
function cpuMeter(parts: Record<string, () => number[]>) {
  const before = Object.fromEntries(Object.entries(parts).map(([name, pids]) => [name, cpuSeconds(pids())]));
  return (count: number) =>
    Object.fromEntries(
      Object.entries(parts).map(([name, pids]) => [
        name,
        ((cpuSeconds(pids()) - (before[name] ?? 0)) * 1000) / count,
      ]),
    );
}

/** Runs `count` calls of `submit`, `inFlight` at a time. */
async function submitAll(count: number, submit: (index: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < count) await submit(next++);
    }),
  );
}

async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
}

/** Raw BullMQ: add → a no-op processor, on `workers` Worker instances. Jobs per second. */
async function rawBullmq(workers: number): Promise<{ perSecond: number; cpu: Record<string, number> }> {
  const prefix = `noa-bench-${randomBytes(4).toString("hex")}`;
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue("raw", { connection, prefix });
  let completed = 0;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  const running = Array.from({ length: workers }, () => {
    const worker = new Worker("raw", async () => {}, {
      connection: new Redis(redisUrl, { maxRetriesPerRequest: null }),
      prefix,
      concurrency,
    });
    worker.on("completed", () => {
      if (++completed === jobs) resolveDone();
    });
    return worker;
  });
  await Promise.all(running.map((worker) => worker.waitUntilReady()));
  const meter = cpuMeter({ bench: () => [process.pid], redis: () => pidsOf("redis-server") });
  const started = performance.now();
  // The same options NOA gives its jobs (priority, attempts, backoff, retention), so only NOA's own work differs.
  await submitAll(jobs, (index) =>
    queue.add(
      "job",
      { jobId: `raw-${index}` },
      {
        jobId: `raw-${index}`,
        priority: 2,
        attempts: 3,
        backoff: { type: "exponential", delay: 1_000 },
        removeOnComplete: { count: 1_000 },
        removeOnFail: true,
      },
    ),
  );
  await done;
  const perSecond = (jobs / (performance.now() - started)) * 1000;
  const cpu = meter(jobs);
  await Promise.all(running.map((worker) => worker.close()));
  await queue.close();
  await dropPrefix(connection, prefix);
  connection.disconnect();
  return { perSecond, cpu };
}

/** NOA end to end with `workers` worker processes. Jobs per second from the first submission to the last completion. */
async function noa(
  workers: number,
): Promise<{ perSecond: number; submitPerSecond: number; cpu: Record<string, number> }> {
  const logger = pino({ level: "silent" });
  const database = await createTestDatabase();
  const prefix = `noa-bench-${randomBytes(4).toString("hex")}`;
  const dataDir = await mkdtemp(path.join(tmpdir(), "noa-bench-jobs-"));
  const upstream = await startOpenAILoopbackServer({ chunkDelayMs: 0 });
  const configFile = path.join(dataDir, "noa.json");
  await writeFile(configFile, JSON.stringify({ routing: { retry: { maxAttempts: 1 } } }));
  const env: Record<string, string> = {
    DATABASE_URL: database.url,
    REDIS_URL: redisUrl,
    NOA_JOBS_PREFIX: prefix,
    NOA_DATA_DIR: dataDir,
    NOA_MODELS_DIR: dataDir,
    NOA_CONFIG: configFile,
    OPENAI_API_KEY: OPENAI_LOOPBACK_API_KEY,
    OPENAI_BASE_URL: upstream.baseURL,
    NOA_WEBHOOK_SECRET: "whsec_bench_0123456789abcdef0123456789abcdef",
    NOA_WORKER_CONCURRENCY: String(concurrency),
    NOA_WORKER_RATE_LIMIT: "0",
    NOA_WORKER_PORT: "off",
    LOG_LEVEL: "warn",
  };

  const access = await createTestAccess({
    store: createPrismaApiKeyStore(database.prisma),
    usageStore: createPrismaUsageStore(database.prisma),
  });
  const { key } = await access.apiKeys.create({ name: "bench", tenant: "bench", scopes: ["jobs"] });
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const subscriber = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const config = parseJobsConfig(env);
  const queues = createJobQueues({ connection, prefix });
  const events = createJobEvents({ publisher: connection, subscriber, prefix });
  const service = createJobService({
    store: createPgJobStore(database.pool),
    queues,
    events,
    callbackPolicy: config.callbackPolicy,
    maxAttempts: config.maxAttempts,
  });
  const { registry } = createGatewayRegistry({
    localModelPath: undefined,
    modelsDir: dataDir,
    llamaThreads: 1,
    maxLoadedModels: 1,
    sequencesPerModel: 1,
    openai: { apiKey: OPENAI_LOOPBACK_API_KEY, baseURL: upstream.baseURL },
    anthropic: undefined,
    routing: undefined,
    logger,
  });
  const server = build({ registry, logger, access: access.access, jobs: service });
  const { port } = await server.listen(0, "127.0.0.1");

  const children: ChildProcess[] = [];
  await Promise.all(
    Array.from({ length: workers }, async () => {
      const child = spawn(process.execPath, ["--import", "@noa/runtime/register", "src/main.ts"], {
        cwd: workerDir,
        env: { ...process.env, ...env },
        stdio: ["ignore", "ignore", "inherit"],
      });
      children.push(child);
      child.once("exit", (code) => {
        if (code !== 0 && code !== null) console.error(`worker exited with ${code}`);
      });
    }),
  );
  // Workers log at warn (a log line per job would be measured too): BullMQ's worker list says when they are up.
  while ((await queues.jobs.getWorkers()).length < workers)
    await new Promise((resolve) => setTimeout(resolve, 50));

  const client = createClient(
    JobService,
    createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}`, interceptors: [withKey(key)] }),
  );
  const spec = {
    kind: {
      case: "inference" as const,
      value: { model: "openai/gpt-4o-mini", messages: [{ role: Role.USER, content: "hi" }], maxTokens: 1 },
    },
  };
  const meter = cpuMeter({
    "rpc-server + client": () => [process.pid],
    workers: () => children.map((child) => child.pid ?? 0),
    postgres: () => pidsOf("postgres"),
    redis: () => pidsOf("redis-server"),
  });
  const started = performance.now();
  await submitAll(jobs, () => client.submitJob({ spec }));
  const submitted = performance.now();
  for (;;) {
    const completed = await database.prisma.job.count({ where: { state: "completed" } });
    if (completed === jobs) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const elapsed = performance.now() - started;
  const cpu = meter(jobs);

  for (const child of children) child.kill("SIGTERM");
  await Promise.all(children.map((child) => (child.exitCode === null ? once(child, "exit") : undefined)));
  await server.close({ graceMs: 0 });
  await events.close();
  await queues.close();
  await dropPrefix(connection, prefix);
  connection.disconnect();
  subscriber.disconnect();
  await registry.close();
  await access.close();
  await upstream.close();
  await database.close();
  await rm(dataDir, { recursive: true, force: true });
  return { perSecond: (jobs / elapsed) * 1000, submitPerSecond: (jobs / (submitted - started)) * 1000, cpu };
}

const rows: string[] = [];
const cpuRows: string[] = [];
const ratios: number[] = [];
const ms = (value: number | undefined) => (value ?? 0).toFixed(2);
for (const workers of [1, 2]) {
  const raw = await rawBullmq(workers);
  const ours = await noa(workers);
  const ratio = ours.perSecond / raw.perSecond;
  ratios.push(ratio);
  console.log({ workers, raw, ours, ratio });
  rows.push(
    `| ${workers} | ${Math.round(raw.perSecond).toLocaleString("en-US")} | ${Math.round(ours.perSecond).toLocaleString("en-US")} | ${Math.round(ours.submitPerSecond).toLocaleString("en-US")} | ${Math.round(ratio * 100)} % |`,
  );
  cpuRows.push(
    `| ${workers} | ${ms(raw.cpu.bench)} + ${ms(raw.cpu.redis)} | ${ms(ours.cpu["rpc-server + client"])} | ${ms(ours.cpu.workers)} | ${ms(ours.cpu.postgres)} | ${ms(ours.cpu.redis)} |`,
  );
}

const met = ratios.every((ratio) => ratio >= 0.5);
writeSection(
  "jobs",
  [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus()[0]?.model ?? "unknown CPU"} (${availableParallelism()} cores), Node ${process.version}, PostgreSQL and Redis on loopback, every process on the same machine (load average ${loadavg()[0]?.toFixed(1)} when done, other work included); ${jobs.toLocaleString("en-US")} jobs per run, ${inFlight} submissions in flight, worker concurrency ${concurrency}, no rate limit.`,
    "",
    "| workers | raw BullMQ add → no-op (jobs/s) | NOA SubmitJob → COMPLETED (jobs/s) | NOA submissions accepted (jobs/s) | NOA / raw |",
    "|---|---|---|---|---|",
    ...rows,
    "",
    "CPU per job (ms), from /proc around each run:",
    "",
    "| workers | raw BullMQ: bench process + Redis | NOA: bench process (rpc-server, gRPC client, loopback upstream) | NOA: workers | NOA: PostgreSQL | NOA: Redis |",
    "|---|---|---|---|---|---|",
    ...cpuRows,
    "",
    `Target: NOA ≥ 50 % of raw BullMQ throughput — **${met ? "met" : "missed"}**.`,
  ].join("\n"),
);
process.exit(0);
