/**
 * Jobs end to end (JobService.SubmitJob → COMPLETED in PostgreSQL) against raw BullMQ (Queue.add →
 * Worker processes a no-op) on the same Redis, with 1 and 2 workers. NOA's jobs are inference jobs
 * answered by an instant OpenAI-wire loopback upstream (1 token), run by real worker processes
 * (`apps/worker`); raw BullMQ workers run no-op processors in this process. Writes docs/benchmarks.md
 * between the jobs markers.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { JobService, Role } from "@noa/proto";
import { startJobCluster } from "@noa/rpc-server/job-cluster";
import { withKey } from "@noa/rpc-server/testing";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { writeSection } from "./write-section.js";

const jobs = Number(process.env.BENCH_JOBS ?? 1_000);
const concurrency = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 50);
const inFlight = Number(process.env.BENCH_SUBMIT_IN_FLIGHT ?? 32);
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

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

/**
 * NOA end to end with `workers` worker processes: the jobs tests' cluster (startJobCluster: rpc-server
 * with the job backend main.ts makes, real worker processes logging at info as they ship, an instant
 * loopback upstream), with the workers' production lock and stalled-check intervals and limits that
 * never refuse. Jobs per second from the first submission to the last completion.
 */
async function noa(
  workers: number,
): Promise<{ perSecond: number; submitPerSecond: number; cpu: Record<string, number> }> {
  const cluster = await startJobCluster({
    workers,
    concurrency,
    chunkDelayMs: 0,
    env: { NOA_RATE_LIMIT_BURST: "1000000", NOA_RATE_LIMIT_PER_SECOND: "1000000" },
    workerEnv: { NOA_WORKER_LOCK_MS: "30000", NOA_WORKER_STALLED_INTERVAL_MS: "30000" },
  });
  const client = createClient(
    JobService,
    createGrpcTransport({ baseUrl: cluster.baseUrl, interceptors: [withKey(await cluster.keyFor("bench"))] }),
  );
  const spec = {
    kind: {
      case: "inference" as const,
      value: { model: "openai/gpt-4o-mini", messages: [{ role: Role.USER, content: "hi" }], maxTokens: 1 },
    },
  };
  const meter = cpuMeter({
    "rpc-server + client": () => [process.pid],
    workers: () => cluster.workers.map((worker) => worker.process.pid ?? 0),
    postgres: () => pidsOf("postgres"),
    redis: () => pidsOf("redis-server"),
  });
  const started = performance.now();
  await submitAll(jobs, () => client.submitJob({ spec }));
  const submitted = performance.now();
  for (;;) {
    const completed = await cluster.database.prisma.job.count({ where: { state: "completed" } });
    if (completed === jobs) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const elapsed = performance.now() - started;
  const cpu = meter(jobs);
  await cluster.close();
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
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus()[0]?.model ?? "unknown CPU"} (${availableParallelism()} cores), Node ${process.version}, PostgreSQL and Redis on loopback, every process on the same machine (load average ${loadavg()[0]?.toFixed(1)} when done, other work included); ${jobs.toLocaleString("en-US")} jobs per run, ${inFlight} submissions in flight, worker concurrency ${concurrency}, no rate limit, workers logging at info.`,
    "",
    "| workers | raw BullMQ add → no-op (jobs/s) | NOA SubmitJob → COMPLETED (jobs/s) | NOA submissions accepted (jobs/s) | NOA / raw |",
    "|---|---|---|---|---|",
    ...rows,
    "",
    "CPU per job (ms), from /proc around each run:",
    "",
    "| workers | raw BullMQ: bench process + Redis | NOA: bench process (rpc-server, gRPC client, loopback upstream, reading the workers' log lines) | NOA: workers | NOA: PostgreSQL | NOA: Redis |",
    "|---|---|---|---|---|---|",
    ...cpuRows,
    "",
    `Target: NOA ≥ 50 % of raw BullMQ throughput — **${met ? "met" : "missed"}**.`,
  ].join("\n"),
);
process.exit(0);
