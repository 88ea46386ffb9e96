import { randomBytes } from "node:crypto";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createJobQueues, verifyWebhook } from "@noa/jobs";
import { ApiKeyService, type RateLimit, Scope } from "@noa/proto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { AppProcess } from "../__fixtures__/spawn-app-process.js";
import { type ScaleOutCluster, scaleOutWebhookSecret, startScaleOutCluster } from "./scale-out-cluster.js";
import { type OneShotAnswer, requestOnce } from "./scale-out-request.js";

// Issue 10's scale-out suite: three rpc-server and two worker processes (the real main.ts of each) on
// one machine, sharing one PostgreSQL database, one Redis and one NOA_JOBS_PREFIX (the deployment's
// Redis namespace: queues, cache, rate limits, breaker events), behind a round-robin TCP proxy. The
// upstream is the OpenAI-wire loopback server; every model id carries this run's tag, so database cache
// rows never meet another suite's. NOA_RELIABILITY_HEAVY=1 runs larger figures.
const heavy = process.env.NOA_RELIABILITY_HEAVY === "1";
const tag = `so${randomBytes(4).toString("hex")}`;
const models = { flaky: `${tag}-flaky`, steady: `${tag}-steady`, fast: `${tag}-fast` };
const fallbackAlias = "scale-out-fallback";
const failureThreshold = 3;

let cluster: ScaleOutCluster;
beforeAll(async () => {
  const startedAt = performance.now();
  cluster = await startScaleOutCluster({
    replicas: 3,
    workers: 2,
    upstream: { models: [models.steady, models.fast], failing: [models.flaky] },
    config: {
      routing: {
        routes: { [fallbackAlias]: [`openai/${models.flaky}`, `openai/${models.steady}`] },
        // One HTTP request per call, so upstream counts are exact; a breaker that stays open for the run.
        retry: { maxAttempts: 1 },
        circuitBreaker: { failureThreshold, cooldownMs: 600_000 },
      },
    },
    env: {
      // The one key with a limit of its own is case 1's; every other key is effectively unlimited.
      NOA_RATE_LIMIT_BURST: "1000000",
      NOA_RATE_LIMIT_PER_SECOND: "1000000",
      NOA_WORKER_CONCURRENCY: "5",
      NOA_WORKER_RATE_LIMIT: "0",
      // A dead worker's jobs run again within lock + check interval. Not shorter: with a 5 s lock, a live
      // worker on a 2-core machine at load 15-20 once missed its renewal (every lock/2), and BullMQ ran
      // two of its jobs a second time on the other worker.
      NOA_WORKER_LOCK_MS: "15000",
      NOA_WORKER_STALLED_INTERVAL_MS: "1000",
      NOA_WEBHOOK_TIMEOUT_MS: "60000",
      NOA_WEBHOOK_BACKOFF_BASE_MS: "100",
      NOA_JOB_BACKOFF_BASE_MS: "100",
    },
  });
  summary("startup", {
    replicas: 3,
    workers: 2,
    startedInMs: Math.round(performance.now() - startedAt),
  });
  // A deadline against a hang only: five processes compiling their TypeScript on two busy cores take their time.
}, 180_000);
afterAll(async () => {
  const startedAt = performance.now();
  await cluster?.close();
  summary("shutdown", { closedInMs: Math.round(performance.now() - startedAt) });
}, 60_000);

const withKey =
  (key: string): Interceptor =>
  (next) =>
  (request) => {
    request.header.set("authorization", `Bearer ${key}`);
    return next(request);
  };

/** A key made through the proxy with ApiKeyService, as an operator would. */
async function createKey(tenant: string, scopes: Scope[], rateLimit?: Partial<RateLimit>): Promise<string> {
  const admin = createClient(
    ApiKeyService,
    createConnectTransport({
      baseUrl: cluster.proxy.baseUrl,
      httpVersion: "1.1",
      interceptors: [withKey(cluster.adminKey)],
    }),
  );
  const { key } = await admin.createApiKey({ name: `scale-out ${tenant}`, tenant, scopes, rateLimit });
  return key;
}

/** Runs `count` calls `width` at a time, in order of index. */
async function inWaves<T>(count: number, width: number, call: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let start = 0; start < count; start += width) {
    const indexes = Array.from({ length: Math.min(width, count - start) }, (_, i) => start + i);
    results.push(...(await Promise.all(indexes.map(call))));
  }
  return results;
}

/** How many of each replica's request log lines (`rest` or `rpc`) carry a correlation id starting with `prefix`. */
function servedPerReplica(prefix: string, extra: (line: Record<string, unknown>) => boolean = () => true) {
  return cluster.replicas.map(
    (replica) =>
      replica.logs.filter(
        (line) =>
          (line.msg === "rest" || line.msg === "rpc") &&
          String(line.correlationId).startsWith(prefix) &&
          extra(line),
      ).length,
  );
}

/** Waits until the replicas have logged all `total` requests under `prefix` (log lines trail the answers). */
async function requestsLogged(prefix: string, total: number): Promise<void> {
  await vi.waitFor(() => expect(servedPerReplica(prefix).reduce((a, b) => a + b, 0)).toBe(total));
}

/** Waits until the job and callback queues hold nothing waiting, delayed or active (stalled entries included). */
async function queuesDrained(timeoutMs: number): Promise<void> {
  const inspector = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", {
    maxRetriesPerRequest: null,
  });
  const queues = createJobQueues({ connection: inspector, prefix: cluster.prefix });
  try {
    await vi.waitFor(
      async () => {
        for (const queue of [queues.jobs, queues.webhooks]) {
          const counts = await queue.getJobCounts("waiting", "active", "delayed", "prioritized");
          expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
        }
      },
      { timeout: timeoutMs, interval: 200 },
    );
  } finally {
    await queues.close();
    inspector.disconnect();
  }
}

/** The answer's text, from an OpenAI chat completion body. */
function messageText(answer: OneShotAnswer): string | undefined {
  const choices = answer.json?.choices as Array<{ message?: { content?: string } }> | undefined;
  return choices?.[0]?.message?.content;
}

function summary(name: string, figures: Record<string, unknown>): void {
  console.log("reliability-summary", JSON.stringify({ suite: "scale-out", case: name, heavy, ...figures }));
}

describe("three rpc-server replicas behind a round-robin proxy", () => {
  it("hold one global rate limit exactly: a key with burst N gets N answers out of M, the rest 429/RESOURCE_EXHAUSTED with a retry delay", async () => {
    const burst = heavy ? 90 : 30;
    const sent = burst * 3;
    const key = await createKey(`rate-${tag}`, [Scope.INFERENCE], {
      requestBurst: burst,
      // Negligible refill: one request per ~3 hours.
      requestsPerSecond: 0.0001,
    });
    const correlation = `${tag}-rate-`;
    // Even requests over REST, odd ones over Connect JSON; each on a new connection, so request i
    // reaches replica i mod 3 (give or take where the proxy's rotation stood), 9 in flight at a time.
    const answers = await inWaves(sent, 9, async (i) => {
      const content = `rate ${tag} ${i}`;
      const headers = { authorization: `Bearer ${key}`, "x-correlation-id": `${correlation}${i}` };
      const rest = i % 2 === 0;
      const answer = await requestOnce({
        port: cluster.proxy.port,
        method: "POST",
        headers,
        ...(rest
          ? {
              path: "/v1/chat/completions",
              body: { model: `openai/${models.fast}`, messages: [{ role: "user", content }], max_tokens: 2 },
            }
          : {
              path: "/noa.inference.v1.InferenceService/Complete",
              body: {
                model: `openai/${models.fast}`,
                messages: [{ role: "ROLE_USER", content }],
                maxTokens: 2,
              },
            }),
      });
      return { rest, answer };
    });

    const successes = answers.filter(({ answer }) => answer.status === 200);
    const rejections = answers.filter(({ answer }) => answer.status === 429);
    const others = answers.filter(({ answer }) => answer.status !== 200 && answer.status !== 429);
    expect(others.map(({ answer }) => `${answer.status} ${answer.text}`)).toEqual([]);
    expect(successes).toHaveLength(burst);
    expect(rejections).toHaveLength(sent - burst);
    for (const { rest, answer } of rejections) {
      if (rest) {
        expect((answer.json?.error as { type?: string } | undefined)?.type).toBe("rate_limit_error");
        expect(Number(answer.headers["retry-after"])).toBeGreaterThanOrEqual(1);
      } else {
        expect(answer.json?.code).toBe("resource_exhausted");
      }
      expect(Number(answer.headers["retry-after-ms"])).toBeGreaterThan(0);
    }
    // Every replica took part, and only admitted requests reached the upstream.
    await requestsLogged(correlation, sent);
    const served = servedPerReplica(correlation);
    const admitted = servedPerReplica(correlation, (line) => line.status === 200 || line.code === "ok");
    for (const count of served) expect(count).toBeGreaterThan(0);
    expect(cluster.upstream.calls.filter((call) => call.prompt.startsWith(`rate ${tag} `))).toHaveLength(
      burst,
    );
    summary("global rate limit", {
      replicas: 3,
      burst,
      requestsSent: sent,
      successes: successes.length,
      rejections: rejections.length,
      rejectionsRest429: rejections.filter(({ rest }) => rest).length,
      rejectionsResourceExhausted: rejections.filter(({ rest }) => !rest).length,
      requestsPerReplica: served,
      successesPerReplica: admitted,
      upstreamCalls: burst,
    });
  });

  it("share a breaker opening: after one replica opens it, the others send nothing to the failing upstream and serve from the fallback", async () => {
    const key = await createKey(`breaker-${tag}`, [Scope.INFERENCE]);
    const flakyTarget = `openai/${models.flaky}`;
    const correlation = `${tag}-breaker-`;
    const ask = (port: number, i: number) =>
      requestOnce({
        port,
        method: "POST",
        path: "/v1/chat/completions",
        headers: { authorization: `Bearer ${key}`, "x-correlation-id": `${correlation}${i}` },
        body: {
          model: fallbackAlias,
          messages: [{ role: "user", content: `breaker ${tag} ${i}` }],
          max_tokens: 3,
        },
      });
    const flakyCalls = () => cluster.upstream.calls.filter((call) => call.model === models.flaky).length;
    const expectServedByFallback = (answer: OneShotAnswer) => {
      expect({ status: answer.status, model: answer.json?.model }).toEqual({
        status: 200,
        model: `openai/${models.steady}`,
      });
    };
    const [opener, ...others] = cluster.replicas as [AppProcess, ...AppProcess[]];

    // The first replica alone: each call fails on the flaky target and falls back; the third opens it.
    for (let i = 0; i < failureThreshold; i++) expectServedByFallback(await ask(opener.port ?? 0, i));
    const isOpening = (line: Record<string, unknown>) =>
      line.msg === "circuit breaker changed state" && line.target === flakyTarget && line.state === "open";
    expect((await opener.waitForLog(isOpening)).cause).toBe("local");
    const openedAt = flakyCalls();
    expect(openedAt).toBe(failureThreshold);
    // The opening reaches every other process over Redis (pub/sub: a moment, not a deadline).
    for (const peer of [...others, ...cluster.workers]) {
      expect((await peer.waitForLog(isOpening)).cause).toBe("remote");
    }

    // Now spread over all three replicas through the proxy.
    const spread = heavy ? 150 : 45;
    const answers = await inWaves(spread, 9, (i) => ask(cluster.proxy.port, failureThreshold + i));
    for (const answer of answers) expectServedByFallback(answer);
    expect(flakyCalls()).toBe(openedAt);
    await requestsLogged(correlation, failureThreshold + spread);
    const skipped = cluster.replicas.map(
      (replica) =>
        replica.logs.filter(
          (line) =>
            line.msg === "provider attempt" &&
            line.target === flakyTarget &&
            line.outcome === "circuit-open" &&
            String(line.correlationId).startsWith(correlation),
        ).length,
    );
    // Every replica answered some of the spread calls, each skipping the open target (the opener's
    // first calls, which opened it, aside).
    const served = servedPerReplica(correlation);
    expect(skipped).toEqual(served.map((count, i) => (i === 0 ? count - failureThreshold : count)));
    for (const count of skipped) expect(count).toBeGreaterThan(0);
    summary("shared breaker", {
      replicas: 3,
      failureThreshold,
      requestsSent: failureThreshold + spread,
      successes: failureThreshold + answers.length,
      servedByFallback: failureThreshold + answers.length,
      failingUpstreamCallsToOpen: openedAt,
      failingUpstreamCallsAfterOpening: flakyCalls() - openedAt,
      requestsPerReplica: served,
      skippedByOpenBreakerPerReplica: skipped,
      openingsReceived: others.length + cluster.workers.length,
    });
  });

  it("share cached answers: a request answered on replica A is a Redis-tier hit on B and C, with one upstream call", async () => {
    const tenant = `cache-${tag}`;
    const key = await createKey(tenant, [Scope.INFERENCE]);
    const prompt = `cache ${tag}: what is the sea like?`;
    const headers = { authorization: `Bearer ${key}` };
    const rest = (port: number) =>
      requestOnce({
        port,
        method: "POST",
        path: "/v1/chat/completions",
        headers,
        body: {
          model: `openai/${models.fast}`,
          messages: [{ role: "user", content: prompt }],
          max_tokens: 6,
          temperature: 0,
        },
      });
    const [a, b, c] = cluster.replicas.map((replica) => replica.port ?? 0) as [number, number, number];

    const first = await rest(a);
    expect(first.status).toBe(200);
    expect(first.headers["x-noa-cache"]).toBe("miss");
    const text = messageText(first);
    expect(text).toBe("The sea is vast and deep");
    // Cache writes run after the answer: wait until the entry is stored in PostgreSQL and Redis (the
    // tiers share one key), not for a delay.
    const inspector = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", {
      maxRetriesPerRequest: 1,
    });
    try {
      await vi.waitFor(async () => {
        const { rows } = await cluster.database.pool.query<{ key: string }>(
          "SELECT key FROM cache_entries WHERE tenant = $1",
          [tenant],
        );
        expect(rows).toHaveLength(1);
        expect(await inspector.exists(`${cluster.prefix}:cache:${rows[0]?.key}`)).toBe(1);
      });
    } finally {
      inspector.disconnect();
    }

    const onB = await rest(b);
    expect(onB.status).toBe(200);
    expect([onB.headers["x-noa-cache"], onB.headers["x-noa-cache-tier"]]).toEqual(["hit", "redis"]);
    expect(messageText(onB)).toBe(text);

    // The same request over Connect on the third replica: the same entry.
    const onC = await requestOnce({
      port: c,
      method: "POST",
      path: "/noa.inference.v1.InferenceService/Complete",
      headers,
      body: {
        model: `openai/${models.fast}`,
        messages: [{ role: "ROLE_USER", content: prompt }],
        maxTokens: 6,
        temperature: 0,
      },
    });
    expect(onC.status).toBe(200);
    expect(onC.json).toMatchObject({ text, cached: true, cacheTier: "redis" });

    const upstreamCalls = cluster.upstream.calls.filter((call) => call.prompt === prompt).length;
    expect(upstreamCalls).toBe(1);
    summary("shared cache", {
      replicas: 3,
      requestsSent: 3,
      answeredBy: [
        "upstream (replica A)",
        `cache ${onB.headers["x-noa-cache-tier"]} (replica B)`,
        `cache ${String(onC.json?.cacheTier)} (replica C)`,
      ],
      upstreamCalls,
    });
  });
});

describe("two workers behind three replicas", () => {
  it(
    "run every job exactly once to completion and call back once, though a worker is SIGKILLed midway",
    async () => {
      const total = heavy ? 1000 : 200;
      const key = await createKey(`jobs-${tag}`, [Scope.JOBS, Scope.INFERENCE]);
      const correlation = `${tag}-job-`;
      const marker = (index: number) => `job ${tag} #${index}#`;
      const indexOf = (prompt: string) => Number(/#(\d+)#/.exec(prompt)?.[1] ?? -1);
      const idOf: string[] = [];
      const { pool } = cluster.database;
      const statesNow = async () => {
        const { rows } = await pool.query<{ state: string; n: number }>(
          "SELECT state::text AS state, count(*)::int AS n FROM jobs GROUP BY state",
        );
        return Object.fromEntries(rows.map((row) => [row.state, row.n])) as Record<string, number>;
      };

      // Submissions through the proxy, a new connection each: spread over the three replicas, 10 at a time,
      // while the workers already run them.
      const submitting = inWaves(total, 10, async (i) => {
        const answer = await requestOnce({
          port: cluster.proxy.port,
          method: "POST",
          path: "/noa.inference.v1.JobService/SubmitJob",
          headers: { authorization: `Bearer ${key}`, "x-correlation-id": `${correlation}${i}` },
          body: {
            spec: {
              inference: {
                model: `openai/${models.fast}`,
                messages: [{ role: "ROLE_USER", content: marker(i) }],
                maxTokens: 4,
              },
            },
            callbackUrl: `${cluster.webhooks.url}/${i}`,
          },
        });
        expect(answer.status, answer.text).toBe(200);
        idOf[i] = String((answer.json?.job as { id?: string } | undefined)?.id);
        return answer;
      });

      submitting.catch(() => {});

      // Midway: hold the upstream and the callback receiver until every job the workers hold (BullMQ's
      // active list) waits at the upstream and every callback in progress waits at the receiver; then kill
      // a worker that is running jobs. So the kill lands mid-inference and mid-delivery, never between a
      // side effect and its acknowledgement, where an at-least-once queue must repeat it (reported
      // with this suite's figures).
      const inspector = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", {
        maxRetriesPerRequest: null,
      });
      const queues = createJobQueues({ connection: inspector, prefix: cluster.prefix });
      let victim: AppProcess | undefined;
      let survivor: AppProcess | undefined;
      let killedMidJob: Array<{ id: string; index: number }> = [];
      let completedBeforeKill = 0;
      try {
        await vi.waitFor(() => expect(cluster.webhooks.accepted.length).toBeGreaterThanOrEqual(total / 4), {
          timeout: 60_000,
        });
        cluster.upstream.pause();
        cluster.webhooks.pause();
        const startedOn = (worker: AppProcess, id: string) =>
          worker.logs.some((line) => line.msg === "job attempt started" && line.jobId === id);
        const held = () => ({
          inference: cluster.upstream.calls
            .filter((call) => call.state === "held")
            .map((call) => indexOf(call.prompt))
            .sort((x, y) => x - y),
          callbacks: cluster.webhooks.held().sort(),
        });
        let running: Array<{ id: string; index: number }> = [];
        await vi.waitFor(
          async () => {
            // One consistent snapshot: nothing reached either gate while BullMQ's active lists were read,
            // so each job and delivery in progress is one held at a gate, none between its side effect and
            // its acknowledgement; with the gates shut none can get there.
            const before = held();
            const active = {
              inference: await queues.jobs.getActiveCount(),
              callbacks: await queues.webhooks.getActiveCount(),
            };
            expect(held()).toEqual(before);
            expect(active).toEqual({
              inference: before.inference.length,
              callbacks: before.callbacks.length,
            });
            expect(before.inference.length).toBeGreaterThan(0);
            const { rows } = await pool.query<{ id: string }>("SELECT id FROM jobs WHERE state = 'active'");
            const indexes = new Map(idOf.map((id, index) => [id, index]));
            running = rows.map((row) => ({ id: row.id, index: indexes.get(row.id) ?? -1 }));
            expect(running.map((job) => job.index).sort((x, y) => x - y)).toEqual(before.inference);
            for (const job of running)
              expect(cluster.workers.some((worker) => startedOn(worker, job.id))).toBe(true);
          },
          { timeout: 30_000, interval: 100 },
        );
        victim = cluster.workers.find((worker) => running.some((job) => startedOn(worker, job.id)));
        survivor = cluster.workers.find((worker) => worker !== victim);
        if (!victim || !survivor) throw new Error("two workers expected");
        const doomed = victim;
        killedMidJob = running.filter((job) => startedOn(doomed, job.id));
        completedBeforeKill = (await statesNow()).completed ?? 0;
        victim.child.kill("SIGKILL");
        await victim.exited;
        cluster.upstream.resume();
        cluster.webhooks.resume();
        await submitting;

        // Done when both queues are empty (the dead worker's jobs were found stalled and ran again) and
        // every job is in a final state.
        await queuesDrained(heavy ? 240_000 : 60_000);
        await vi.waitFor(async () => expect((await statesNow()).completed ?? 0).toBe(total));
      } finally {
        cluster.upstream.resume();
        cluster.webhooks.resume();
        await queues.close();
        inspector.disconnect();
      }

      const states = await statesNow();
      // Inference: exactly one complete upstream answer per job; the killed worker's calls were cut.
      const completions = new Map<number, number>();
      for (const call of cluster.upstream.calls) {
        if (!call.prompt.startsWith(`job ${tag} `) || call.state !== "completed") continue;
        const index = indexOf(call.prompt);
        completions.set(index, (completions.get(index) ?? 0) + 1);
      }
      const cut = cluster.upstream.calls.filter(
        (call) => call.prompt.startsWith(`job ${tag} `) && call.state === "cut",
      );
      const indexes = Array.from({ length: total }, (_, i) => i);
      const inferenceLost = indexes.filter((i) => !completions.has(i));
      const inferenceDuplicated = indexes.filter((i) => (completions.get(i) ?? 0) > 1);
      // Completed transitions, as the workers logged them (the killed worker's unflushed lines aside).
      const completedLines = new Map<string, number>();
      for (const worker of cluster.workers)
        for (const line of worker.logs)
          if (line.msg === "job completed")
            completedLines.set(String(line.jobId), (completedLines.get(String(line.jobId)) ?? 0) + 1);
      const transitionsDuplicated = [...completedLines].filter(([, n]) => n > 1).map(([id]) => id);
      // Callbacks: one accepted delivery per job, signed, saying completed.
      const hooks = new Map<string, number>();
      for (const hook of cluster.webhooks.accepted) hooks.set(hook.jobId, (hooks.get(hook.jobId) ?? 0) + 1);
      const webhooksDuplicated = [...hooks].filter(([, n]) => n > 1).map(([id]) => id);
      const webhooksMissing = idOf.filter((id) => !hooks.has(id));
      await requestsLogged(correlation, total);
      const submittedPerReplica = servedPerReplica(correlation);

      summary("jobs exactly once", {
        replicas: 3,
        workers: 2,
        jobsSubmitted: total,
        jobsCompleted: states.completed ?? 0,
        jobsInOtherStates: Object.fromEntries(
          Object.entries(states).filter(([state]) => state !== "completed"),
        ),
        jobsLost: inferenceLost.length,
        jobsDuplicated: inferenceDuplicated.length,
        completedTransitionsDuplicated: transitionsDuplicated.length,
        completedBeforeKill,
        runningOnKilledWorker: killedMidJob.length,
        upstreamCallsCutByKill: cut.length,
        webhooksDelivered: cluster.webhooks.accepted.length,
        webhooksDuplicated: webhooksDuplicated.length,
        webhooksMissing: webhooksMissing.length,
        webhooksAbandonedByKilledWorker: cluster.webhooks.abandoned(),
        submissionsPerReplica: submittedPerReplica,
      });

      // On failure: what each worker logged about the jobs concerned, and the callbacks received.
      const story = (ids: string[]) =>
        JSON.stringify({
          workers: cluster.workers.map((worker) => ({
            worker: worker.name,
            lines: worker.logs
              .filter((line) => ids.includes(String(line.jobId)))
              .map((line) => ({ time: line.time, msg: line.msg, job: line.jobId, attempt: line.attempt })),
          })),
          callbacks: cluster.webhooks.accepted
            .filter((hook) => ids.includes(hook.jobId))
            .map((hook) => ({ job: hook.jobId, attempt: hook.attempt })),
          killedAt: { victim: victim?.name, completedBeforeKill },
        });
      expect(states).toEqual({ completed: total });
      expect(killedMidJob.length).toBeGreaterThan(0);
      expect(inferenceLost).toEqual([]);
      expect(
        inferenceDuplicated,
        `inference ran twice: ${story(inferenceDuplicated.map((index) => idOf[index] ?? ""))}`,
      ).toEqual([]);
      expect(transitionsDuplicated, `completed twice: ${story(transitionsDuplicated)}`).toEqual([]);
      expect(webhooksDuplicated, `called back twice: ${story(webhooksDuplicated)}`).toEqual([]);
      expect(webhooksMissing).toEqual([]);
      // The jobs the killed worker was running were finished by the survivor.
      await vi.waitFor(() => {
        for (const job of killedMidJob)
          expect(survivor?.logs.some((line) => line.msg === "job completed" && line.jobId === job.id)).toBe(
            true,
          );
      });
      for (const count of submittedPerReplica) expect(count).toBeGreaterThan(0);
      // Every callback says completed and carries a valid signature.
      for (const hook of cluster.webhooks.accepted) {
        expect(JSON.parse(hook.body).job.state).toBe("JOB_STATE_COMPLETED");
        expect(
          verifyWebhook({ secret: scaleOutWebhookSecret, body: hook.body, header: hook.signature }),
        ).toBe(true);
      }
    },
    heavy ? 400_000 : 100_000,
  );
});

// Heavy runs only: a worker killed after its work was stored in PostgreSQL and before BullMQ heard of it
// (a completion stored, a callback's delivery recorded), forced with a table lock: the statements wait,
// the workers die, the lock goes, the dead workers' statements commit (PostgreSQL does not notice a
// client gone while its statement waits), and BullMQ hands both queue entries to a new worker as
// stalled. The database already says "done" for both; neither should be done again.
describe.runIf(heavy)("workers killed after storing their work and before acknowledging it", () => {
  it("neither run the inference again nor send the callback again", async () => {
    const key = await createKey(`window-${tag}`, [Scope.JOBS, Scope.INFERENCE]);
    const prompt = (name: string) => `window ${tag} ${name}`;
    const submit = async (name: string, callback: boolean) => {
      const answer = await requestOnce({
        port: cluster.proxy.port,
        method: "POST",
        path: "/noa.inference.v1.JobService/SubmitJob",
        headers: { authorization: `Bearer ${key}` },
        body: {
          spec: {
            inference: {
              model: `openai/${models.fast}`,
              messages: [{ role: "ROLE_USER", content: prompt(name) }],
              maxTokens: 4,
            },
          },
          ...(callback && { callbackUrl: `${cluster.webhooks.url}/window-${name}` }),
        },
      });
      expect(answer.status, answer.text).toBe(200);
      return String((answer.json?.job as { id?: string } | undefined)?.id);
    };
    const callsFor = (name: string, state: string) =>
      cluster.upstream.calls.filter((call) => call.prompt === prompt(name) && call.state === state).length;
    const accepted = (id: string) => cluster.webhooks.accepted.filter((hook) => hook.jobId === id).length;
    const { pool } = cluster.database;
    const stateOf = async (id: string) =>
      (await pool.query<{ state: string }>("SELECT state::text AS state FROM jobs WHERE id = $1", [id]))
        .rows[0]?.state;
    const deliveredCount = async (id: string) =>
      (
        await pool.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM webhook_deliveries WHERE job_id = $1 AND delivered",
          [id],
        )
      ).rows[0]?.n;

    const locker = await pool.connect();
    let inferenceRuns = 0;
    let callbacks = 0;
    try {
      await locker.query("BEGIN");
      // Recording a delivery waits: the callback's 200 is out, the delivery not yet recorded.
      await locker.query("LOCK TABLE webhook_deliveries IN EXCLUSIVE MODE");
      const calledBack = await submit("callback", true);
      await vi.waitFor(() => expect(accepted(calledBack)).toBe(1));

      // Storing a completion waits: the upstream answered, the job is still active.
      cluster.upstream.pause();
      const answered = await submit("inference", false);
      await vi.waitFor(() => expect(callsFor("inference", "held")).toBe(1));
      await locker.query("LOCK TABLE jobs IN EXCLUSIVE MODE");
      cluster.upstream.resume();
      await vi.waitFor(() => expect(callsFor("inference", "completed")).toBe(1));
      // Both writes (the delivery record, the completion) must be waiting on the locks before the kill:
      // a worker killed before it sent its statement would have stored nothing.
      await vi.waitFor(async () => {
        const { rows } = await pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> $1`,
          [(locker as unknown as { processID: number }).processID],
        );
        expect(rows[0]?.n).toBeGreaterThanOrEqual(2);
      });

      for (const worker of cluster.workers.filter((entry) => entry.alive())) {
        worker.child.kill("SIGKILL");
        await worker.exited;
      }
      await locker.query("ROLLBACK");
      // With no worker alive, only the dead workers' waiting statements can have stored these.
      await vi.waitFor(async () => {
        expect(await stateOf(answered)).toBe("completed");
        expect(await deliveredCount(calledBack)).toBe(1);
      });

      await cluster.startWorker("worker 3");
      await queuesDrained(120_000);
      inferenceRuns = callsFor("inference", "completed");
      callbacks = accepted(calledBack);
    } finally {
      cluster.upstream.resume();
      await locker.query("ROLLBACK").catch(() => {});
      locker.release();
    }
    summary("kill after storing, before acknowledging", {
      upstreamAnswersForOneJob: inferenceRuns,
      callbacksAcceptedForOneJob: callbacks,
    });
    expect(inferenceRuns, "the stalled job ran its inference again although its completion was stored").toBe(
      1,
    );
    // The webhook processor skips a callback whose delivery is already recorded for this finish.
    expect(
      callbacks,
      "the stalled callback was sent again although its delivery was recorded as delivered",
    ).toBe(1);
  }, 240_000);
});
