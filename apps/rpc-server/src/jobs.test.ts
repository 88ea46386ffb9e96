import { once } from "node:events";
import http2 from "node:http2";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { createPrismaUsageStore } from "@noa/db";
import { verifyWebhook } from "@noa/jobs";
import { ExportFormat, JobPriority, JobState, NotificationChannel, Role } from "@noa/proto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type JobCluster, startJobCluster, testWebhookSecret } from "./__fixtures__/start-job-cluster.js";

// Issue 7's acceptance: rpc-server, two worker processes, PostgreSQL, Redis and BullMQ, all real; the
// model provider is an OpenAI-wire loopback server that injects faults into chosen requests.
const model = "openai/gpt-4o-mini";
const inference = (maxTokens = 8, content = "Tell me about the sea") => ({
  case: "inference" as const,
  value: { model, messages: [{ role: Role.USER, content }], maxTokens },
});

let cluster: JobCluster;
beforeAll(async () => {
  cluster = await startJobCluster({ workers: 2 });
});
afterAll(async () => {
  await cluster?.close();
});

async function codeOf(call: Promise<unknown>): Promise<{ code: Code | undefined; message: string }> {
  return call.then(
    () => ({ code: undefined, message: "" }),
    (error: unknown) => {
      const connectError = ConnectError.from(error);
      return { code: connectError.code, message: connectError.rawMessage };
    },
  );
}

describe("submit, watch, complete, call back", () => {
  it("runs an inference job to completion, streams every state, and calls back once with a valid signature", async () => {
    const client = cluster.client(await cluster.keyFor("acme"));
    const { job, deduplicated } = await client.submitJob({
      spec: { kind: inference() },
      callbackUrl: cluster.webhooks.url("happy"),
    });
    expect(deduplicated).toBe(false);
    expect(job?.state).toBe(JobState.QUEUED);
    const id = job?.id ?? "";

    const states: JobState[] = [];
    let last: Awaited<ReturnType<typeof client.getJob>>["job"];
    for await (const message of client.watchJob({ id })) {
      states.push(message.job?.state ?? JobState.UNSPECIFIED);
      last = message.job;
    }
    expect(states.at(-1)).toBe(JobState.COMPLETED);
    expect(states).toContain(JobState.ACTIVE);
    expect(last?.result?.kind.case).toBe("inference");
    const answer = last?.result?.kind.case === "inference" ? last.result.kind.value : undefined;
    expect(answer?.text).toBe("The sea is vast and deep and blue,");
    expect(answer?.usage?.completionTokens).toBe(8);
    expect(last?.attempts).toBe(1);
    expect(last?.progress).toBe(1);

    await vi.waitFor(() =>
      expect(cluster.webhooks.received.filter((hook) => hook.path === "/hooks/happy")).toHaveLength(1),
    );
    const [hook] = cluster.webhooks.received.filter((entry) => entry.path === "/hooks/happy");
    const signature = hook?.headers["x-noa-signature"];
    expect(
      verifyWebhook({ secret: testWebhookSecret, body: hook?.body ?? "", header: String(signature) }),
    ).toBe(true);
    expect(
      verifyWebhook({ secret: "another secret", body: hook?.body ?? "", header: String(signature) }),
    ).toBe(false);
    const body = JSON.parse(hook?.body ?? "{}");
    expect(body.job.id).toBe(id);
    expect(body.job.state).toBe("JOB_STATE_COMPLETED");
    expect(body.job.result.inference.text).toBe(answer?.text);
    expect(hook?.headers["x-correlation-id"]).toBe(last?.correlationId);

    await vi.waitFor(async () => {
      const { job: delivered } = await client.getJob({ id });
      expect(delivered?.webhookDeliveries).toMatchObject([{ attempt: 1, statusCode: 200, delivered: true }]);
    });
    // Usage is written as for a synchronous call, under the submitting key's tenant.
    await vi.waitFor(async () => {
      const rows = await cluster.database.prisma.usageRecord.findMany({
        where: { correlationId: last?.correlationId },
      });
      expect(rows).toMatchObject([{ tenant: "acme", modelServed: model, completionTokens: 8, status: "ok" }]);
    });
  });
});

describe("failures, retries and the dead-letter queue", () => {
  it("retries a provider outage with backoff, reporting RETRYING with the next attempt time, then completes", async () => {
    const client = cluster.client(await cluster.keyFor("retry-tenant"));
    cluster.openai.enqueueFaults({ kind: "status", status: 503 });
    const { job } = await client.submitJob({ spec: { kind: inference() } });
    const seen: Array<NonNullable<typeof job>> = [];
    for await (const message of client.watchJob({ id: job?.id ?? "" }))
      if (message.job) seen.push(message.job);
    const retrying = seen.find((entry) => entry.state === JobState.RETRYING);
    expect(retrying?.error).toMatchObject({ code: "UNAVAILABLE", retryable: true });
    expect(retrying?.nextAttemptTime).toBeDefined();
    expect(seen.at(-1)).toMatchObject({ state: JobState.COMPLETED, attempts: 2, maxAttempts: 3 });
  });

  it("dead-letters a job whose every attempt failed, keeps it in the dead-letter queue, and RetryJob runs it again", async () => {
    const client = cluster.client(await cluster.keyFor("dlq-tenant"));
    cluster.openai.enqueueFaults(
      { kind: "status", status: 500 },
      { kind: "status", status: 500 },
      { kind: "status", status: 500 },
    );
    const { job } = await client.submitJob({ spec: { kind: inference() } });
    const id = job?.id ?? "";
    let last: typeof job;
    for await (const message of client.watchJob({ id })) last = message.job;
    expect(last).toMatchObject({
      state: JobState.DEAD_LETTERED,
      attempts: 3,
      error: { code: "UNAVAILABLE", message: 'model provider "openai" failed to answer', retryable: true },
    });
    expect(last?.finishTime).toBeDefined();
    const parked = await cluster.queues.deadLetter.getJob(id);
    expect(parked?.data).toMatchObject({
      jobId: id,
      originalQueue: "noa-jobs",
      data: { jobId: id },
      attempts: 3,
      error: { code: "UNAVAILABLE" },
    });

    const { job: retried } = await client.retryJob({ id });
    expect(retried).toMatchObject({ state: JobState.QUEUED, attempts: 0 });
    expect(retried?.error).toBeUndefined();
    expect(await cluster.queues.deadLetter.getJob(id)).toBeUndefined();
    for await (const message of client.watchJob({ id })) last = message.job;
    expect(last).toMatchObject({ state: JobState.COMPLETED, attempts: 1 });
    // Only dead-lettered or failed jobs can be retried.
    expect(await codeOf(client.retryJob({ id }))).toMatchObject({ code: Code.FailedPrecondition });
  });

  it("fails a job at once on a non-retryable error (a 4xx from the provider)", async () => {
    const client = cluster.client(await cluster.keyFor("fail-tenant"));
    cluster.openai.enqueueFaults({ kind: "status", status: 400 });
    const requestsBefore = cluster.openai.requests.length;
    const { job } = await client.submitJob({ spec: { kind: inference() } });
    let last: typeof job;
    for await (const message of client.watchJob({ id: job?.id ?? "" })) last = message.job;
    expect(last).toMatchObject({
      state: JobState.FAILED,
      attempts: 1,
      error: { code: "INVALID_ARGUMENT", retryable: false },
    });
    expect(cluster.openai.requests.length - requestsBefore).toBe(1);

    // Retrying it runs a completion: a key of the same tenant with `jobs` alone may not, on either face.
    const id = job?.id ?? "";
    const jobsOnly = await cluster.keyFor("fail-tenant", ["jobs"]);
    expect(await codeOf(cluster.client(jobsOnly).retryJob({ id }))).toEqual({
      code: Code.PermissionDenied,
      message: expect.stringMatching(/lacks the "inference" scope/),
    });
    const overRest = await fetch(`${cluster.baseUrl}/v1/jobs/${id}/retry`, {
      method: "POST",
      headers: { authorization: `Bearer ${jobsOnly}` },
    });
    expect(overRest.status).toBe(403);
    expect((await client.getJob({ id })).job?.state).toBe(JobState.FAILED);
  });

  it("retries a failing webhook as its own step, recording each attempt, without running the job again", async () => {
    const client = cluster.client(await cluster.keyFor("hook-tenant"));
    cluster.webhooks.failNext(500, 503);
    const requestsBefore = cluster.openai.requests.length;
    const { job } = await client.submitJob({
      spec: { kind: inference() },
      callbackUrl: cluster.webhooks.url("flaky"),
    });
    const id = job?.id ?? "";
    await vi.waitFor(async () => {
      const { job: now } = await client.getJob({ id });
      expect(
        now?.webhookDeliveries.map((delivery) => [delivery.attempt, delivery.statusCode, delivery.delivered]),
      ).toEqual([
        [1, 500, false],
        [2, 503, false],
        [3, 200, true],
      ]);
    });
    expect(cluster.openai.requests.length - requestsBefore).toBe(1);
    expect((await client.getJob({ id })).job?.attempts).toBe(1);
  });
});

describe("idempotency, tenants and bad input", () => {
  it("returns the same job for the same idempotency key from the same tenant, and a new one for another tenant", async () => {
    const acme = cluster.client(await cluster.keyFor("idem-acme"));
    const globex = cluster.client(await cluster.keyFor("idem-globex"));
    const request = { spec: { kind: inference() }, idempotencyKey: "order-42" };
    const first = await acme.submitJob(request);
    const again = await acme.submitJob(request);
    expect(again.deduplicated).toBe(true);
    expect(again.job?.id).toBe(first.job?.id);
    const other = await globex.submitJob(request);
    expect(other.deduplicated).toBe(false);
    expect(other.job?.id).not.toBe(first.job?.id);
    expect((await acme.listJobs({})).jobs.map((job) => job.id)).toEqual([first.job?.id]);
  });

  it("hides other tenants' jobs from Get, List, Watch, Cancel and Retry", async () => {
    const owner = cluster.client(await cluster.keyFor("owner"));
    const stranger = cluster.client(await cluster.keyFor("stranger"));
    const { job } = await owner.submitJob({ spec: { kind: inference() } });
    const id = job?.id ?? "";
    for (const call of [
      () => stranger.getJob({ id }),
      () => stranger.cancelJob({ id }),
      () => stranger.retryJob({ id }),
      async () => {
        for await (const _ of stranger.watchJob({ id })) {
        }
      },
    ]) {
      expect(await codeOf(call())).toEqual({
        code: Code.NotFound,
        message: expect.stringMatching(new RegExp(`^job "${id}" does not exist \\(correlation id: `)),
      });
    }
    expect((await stranger.listJobs({})).jobs).toEqual([]);
    expect((await owner.listJobs({})).jobs.map((entry) => entry.id)).toEqual([id]);
    expect(await codeOf(owner.getJob({ id: "not-a-job" }))).toMatchObject({ code: Code.NotFound });
  });

  it("refuses bad submissions with INVALID_ARGUMENT and the reason", async () => {
    const client = cluster.client(await cluster.keyFor("bad-input"));
    const cases: Array<[Parameters<typeof client.submitJob>[0], RegExp]> = [
      [{}, /^spec is required: set exactly one of inference \(ai-inference\), notification or usage_export/],
      [
        { spec: { kind: { case: "inference", value: { model, messages: [] } } } },
        /^messages must hold at least one message/,
      ],
      [{ spec: { kind: inference() }, callbackUrl: "not a url" }, /^callback_url must be an absolute URL/],
      [
        { spec: { kind: inference() }, callbackUrl: "ftp://example.com/x" },
        /^callback_url must use https or http/,
      ],
      [
        { spec: { kind: { case: "notification", value: { body: "hi" } } } },
        /^spec\.notification\.channel must be/,
      ],
      [
        { spec: { kind: { case: "usageExport", value: {} } } },
        /^spec\.usage_export needs start_time and end_time/,
      ],
      [
        { spec: { kind: inference() }, idempotencyKey: "k".repeat(201) },
        /^idempotency_key must hold 1 to 200 characters/,
      ],
      [
        { spec: { kind: inference() }, priority: 99 as JobPriority },
        /^priority must be one of JOB_PRIORITY_HIGH, JOB_PRIORITY_MEDIUM, JOB_PRIORITY_LOW \(got 99\)/,
      ],
    ];
    for (const [request, reason] of cases) {
      const { code, message } = await codeOf(client.submitJob(request));
      expect({ code, message }).toEqual({
        code: Code.InvalidArgument,
        message: expect.stringMatching(reason),
      });
    }
    expect(
      await codeOf(
        client.submitJob({
          spec: { kind: { ...inference(), value: { ...inference().value, model: "nowhere/model" } } },
        }),
      ),
    ).toMatchObject({ code: Code.NotFound });
    expect((await client.listJobs({})).jobs).toEqual([]);
    // A request that names no job, or a state the contract does not define, is the caller's mistake.
    for (const call of [
      () => client.getJob({}),
      () => client.cancelJob({}),
      () => client.retryJob({}),
      async () => {
        for await (const _ of client.watchJob({})) break;
      },
    ]) {
      expect(await codeOf(call())).toEqual({
        code: Code.InvalidArgument,
        message: expect.stringMatching(/^id is required/),
      });
    }
    expect(await codeOf(client.listJobs({ state: 99 as JobState }))).toEqual({
      code: Code.InvalidArgument,
      message: expect.stringMatching(/^state must be one of JOB_STATE_QUEUED, .* \(got 99\)/),
    });
  });

  it("refuses callback URLs that point at loopback, link-local or private addresses unless allowed (SSRF)", async () => {
    const client = cluster.client(await cluster.keyFor("ssrf"));
    // The test cluster allows loopback (its receiver is on 127.0.0.1); the rest stays refused.
    for (const url of [
      "http://169.254.169.254/latest/meta-data/",
      "http://10.0.0.7/hook",
      "http://[fd00::1]/hook",
      "http://192.168.1.1/hook",
      "http://0.0.0.0/hook",
    ]) {
      const { code, message } = await codeOf(
        client.submitJob({ spec: { kind: inference() }, callbackUrl: url }),
      );
      expect({ url, code, message }).toEqual({
        url,
        code: Code.InvalidArgument,
        message: expect.stringMatching(/^callback_url is refused: /),
      });
    }
  });

  it("takes each call, submissions and reads alike, from the key's request rate limit, over gRPC and REST", async () => {
    // A bucket of 2 that refills one request in 1,000 s: the third submission is refused.
    const key = await cluster.keyFor("limited", ["jobs", "inference"], {
      requestBurst: 2,
      requestsPerSecond: 0.001,
    });
    const client = cluster.client(key);
    for (const idempotencyKey of ["limited-1", "limited-2"]) {
      await client.submitJob({ spec: { kind: inference(3) }, idempotencyKey });
    }
    const refused = await codeOf(
      client.submitJob({ spec: { kind: inference(3) }, idempotencyKey: "limited-3" }),
    );
    expect(refused).toEqual({
      code: Code.ResourceExhausted,
      message: expect.stringMatching(
        /^request rate limit of this key reached; retry in \d+ s \(correlation id: [\w-]+\)$/,
      ),
    });
    const overRest = await fetch(`${cluster.baseUrl}/v1/jobs`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({
        spec: { inference: { model, messages: [{ role: "ROLE_USER", content: "Hi" }] } },
      }),
    });
    expect(overRest.status).toBe(429);
    expect(Number(overRest.headers.get("retry-after"))).toBeGreaterThan(0);
    // Reading is limited too: a spent bucket lists, watches and retries nothing, over either face.
    // One at a time: a call made while another is awaited would reject with no handler yet.
    for (const read of [
      () => client.listJobs({}),
      async () => {
        for await (const _ of client.watchJob({ id: "any" }));
      },
      () => client.retryJob({ id: "any" }),
    ]) {
      expect(await codeOf(read())).toMatchObject({ code: Code.ResourceExhausted });
    }
    const listOverRest = await fetch(`${cluster.baseUrl}/v1/jobs`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(listOverRest.status).toBe(429);
    // Refused submissions made no job (as another key of the tenant sees).
    const { jobs } = await cluster.client(await cluster.keyFor("limited")).listJobs({});
    expect(jobs).toHaveLength(2);
  });

  it("charges the tokens an inference job used to the key's token budget: once spent, submissions and calls are refused", async () => {
    // 10 tokens a minute: the job (its prompt and 8 completion tokens) is admitted, then spends more than that.
    const key = await cluster.keyFor("token-budget", ["jobs", "inference"], { tokensPerMinute: 10 });
    const client = cluster.client(key);
    const { job } = await client.submitJob({ spec: { kind: inference(8) } });
    let done: Awaited<ReturnType<typeof client.getJob>>["job"];
    for await (const message of client.watchJob({ id: job?.id ?? "" })) done = message.job;
    expect(done?.state).toBe(JobState.COMPLETED);
    const usage = done?.result?.kind.case === "inference" ? done.result.kind.value.usage : undefined;
    expect(usage?.totalTokens).toBeGreaterThan(10);
    await vi.waitFor(
      async () =>
        expect(await codeOf(client.submitJob({ spec: { kind: inference(3) } }))).toEqual({
          code: Code.ResourceExhausted,
          message: expect.stringMatching(/^token rate limit of this key reached; retry in \d+ s/),
        }),
      { timeout: 5_000 },
    );
  });

  it("needs the inference scope as well for an inference job, over gRPC and REST alike", async () => {
    const key = await cluster.keyFor("jobs-only", ["jobs"]);
    const refused = await codeOf(cluster.client(key).submitJob({ spec: { kind: inference() } }));
    expect(refused).toEqual({
      code: Code.PermissionDenied,
      message: expect.stringMatching(/lacks the "inference" scope/),
    });
    const overRest = await fetch(`${cluster.baseUrl}/v1/jobs`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({
        spec: { inference: { model, messages: [{ role: "ROLE_USER", content: "Hi" }] } },
      }),
    });
    expect(overRest.status).toBe(403);
    expect(((await overRest.json()) as { error: { message: string } }).error.message).toMatch(
      /lacks the "inference" scope/,
    );
    expect((await cluster.client(key).listJobs({})).jobs).toEqual([]);
  });

  it("needs the jobs scope", async () => {
    const client = cluster.client(await cluster.keyFor("no-jobs", ["inference"]));
    expect(await codeOf(client.listJobs({}))).toMatchObject({ code: Code.PermissionDenied });
    expect(await codeOf(client.submitJob({ spec: { kind: inference() } }))).toMatchObject({
      code: Code.PermissionDenied,
    });
  });
});

describe("cancellation", () => {
  it("cancels a queued job (it never runs) and active jobs (their generation stops)", async () => {
    const client = cluster.client(await cluster.keyFor("cancel-tenant"));
    // Both workers (concurrency 1 each) get a generation that never ends: the next job must wait.
    cluster.openai.enqueueFaults({ kind: "stall-before-first-token" }, { kind: "stall-before-first-token" });
    const { job: first } = await client.submitJob({ spec: { kind: inference(8, "stall one") } });
    const { job: second } = await client.submitJob({ spec: { kind: inference(8, "stall two") } });
    await vi.waitFor(async () => {
      for (const id of [first?.id, second?.id]) {
        expect((await client.getJob({ id: id ?? "" })).job?.state).toBe(JobState.ACTIVE);
      }
    });
    const { job: waiting } = await client.submitJob({ spec: { kind: inference(8, "never run") } });
    const queuedId = waiting?.id ?? "";
    expect((await client.cancelJob({ id: queuedId })).job).toMatchObject({ state: JobState.CANCELLED });

    for (const id of [first?.id ?? "", second?.id ?? ""]) {
      const { job } = await client.cancelJob({ id });
      expect(job?.state).toBe(JobState.CANCELLED);
      expect(job?.finishTime).toBeDefined();
    }
    const stalled = cluster.openai.requests.filter((request) =>
      JSON.stringify(request.body).includes("stall "),
    );
    await vi.waitFor(() => expect(stalled.map((request) => request.closedByClient)).toEqual([true, true]));

    // A job submitted after the cancelled one completes; had the cancelled one stayed queued, it would have run first.
    const { job: later } = await client.submitJob({ spec: { kind: inference(8, "after the cancel") } });
    for await (const _ of client.watchJob({ id: later?.id ?? "" })) {
    }
    expect((await client.getJob({ id: queuedId })).job).toMatchObject({
      state: JobState.CANCELLED,
      attempts: 0,
    });
    expect(
      cluster.openai.requests.some((request) => JSON.stringify(request.body).includes("never run")),
    ).toBe(false);
    for (const id of [first?.id ?? "", second?.id ?? ""]) {
      expect((await client.getJob({ id })).job?.state).toBe(JobState.CANCELLED);
    }
    expect(await codeOf(client.cancelJob({ id: later?.id ?? "" }))).toMatchObject({
      code: Code.FailedPrecondition,
      message: expect.stringMatching(/is completed; only queued, retrying or active jobs can be cancelled/),
    });
  });
});

describe("priorities across worker processes", () => {
  it("starts a high job before low ones queued earlier", async () => {
    const client = cluster.client(await cluster.keyFor("priorities"));
    cluster.openai.enqueueFaults({ kind: "stall-before-first-token" }, { kind: "stall-before-first-token" });
    const blockers: string[] = [];
    for (const name of ["blocker one", "blocker two"]) {
      blockers.push((await client.submitJob({ spec: { kind: inference(8, name) } })).job?.id ?? "");
    }
    await vi.waitFor(async () => {
      for (const id of blockers) expect((await client.getJob({ id })).job?.state).toBe(JobState.ACTIVE);
    });
    // Both workers are busy: these wait in the queue, the low ones first.
    const lows: string[] = [];
    for (const name of ["low one", "low two", "low three"]) {
      lows.push(
        (await client.submitJob({ spec: { kind: inference(2, name) }, priority: JobPriority.LOW })).job?.id ??
          "",
      );
    }
    const high =
      (await client.submitJob({ spec: { kind: inference(2, "high") }, priority: JobPriority.HIGH })).job
        ?.id ?? "";

    // One slot frees up: the next job to start must be the high one.
    await client.cancelJob({ id: blockers[0] ?? "" });
    for await (const _ of client.watchJob({ id: high })) {
    }
    await client.cancelJob({ id: blockers[1] ?? "" });
    for (const id of lows) {
      for await (const _ of client.watchJob({ id })) {
      }
    }
    const starts = () =>
      cluster.workers
        .flatMap((worker) => worker.logs)
        .filter((line) => line.msg === "job attempt started" && [high, ...lows].includes(String(line.jobId)))
        .sort((a, b) => Number(a.time) - Number(b.time))
        .map((line) => line.jobId);
    // Log lines are written in batches (up to 20 ms after they are logged): the jobs' ends come first.
    await vi.waitFor(() => expect(starts()).toHaveLength(4));
    expect(starts()[0]).toBe(high);
  });
});

describe("notification and data-processing jobs", () => {
  it("sends a signed webhook notification, and fails an email one at once when no sender is configured", async () => {
    const client = cluster.client(await cluster.keyFor("notify"));
    const { job } = await client.submitJob({
      spec: {
        kind: {
          case: "notification",
          value: {
            channel: NotificationChannel.WEBHOOK,
            to: cluster.webhooks.url("notify"),
            subject: "Done",
            body: "The batch is ready",
          },
        },
      },
    });
    let last: typeof job;
    for await (const message of client.watchJob({ id: job?.id ?? "" })) last = message.job;
    expect(last?.state).toBe(JobState.COMPLETED);
    expect(last?.result?.kind).toEqual({
      case: "notification",
      value: expect.objectContaining({ channel: NotificationChannel.WEBHOOK, statusCode: 200 }),
    });
    const hook = cluster.webhooks.received.find((entry) => entry.path === "/hooks/notify");
    expect(JSON.parse(hook?.body ?? "{}")).toEqual({
      subject: "Done",
      body: "The batch is ready",
      job_id: job?.id,
      // Signed with the deployment's one secret: the tenant tells a receiver whose job sent it.
      tenant: "notify",
    });
    expect(
      verifyWebhook({
        secret: testWebhookSecret,
        body: hook?.body ?? "",
        header: String(hook?.headers["x-noa-signature"]),
      }),
    ).toBe(true);

    const { job: email } = await client.submitJob({
      spec: {
        kind: {
          case: "notification",
          value: { channel: NotificationChannel.EMAIL, to: "ops@example.com", subject: "Hi", body: "Hello" },
        },
      },
    });
    for await (const message of client.watchJob({ id: email?.id ?? "" })) last = message.job;
    expect(last).toMatchObject({
      state: JobState.FAILED,
      attempts: 1,
      error: {
        code: "FAILED_PRECONDITION",
        message: "no email sender is configured on the workers; use the webhook channel or configure one",
        retryable: false,
      },
    });
  });

  it("exports the tenant's usage records in a date range as CSV and JSONL", async () => {
    const client = cluster.client(await cluster.keyFor("exporter"));
    const record = (tenant: string, createdAt: string, modelRequested: string) => ({
      id: crypto.randomUUID(),
      apiKeyId: "key-1",
      tenant,
      modelRequested,
      provider: "openai",
      modelServed: "openai/gpt-4o-mini",
      promptTokens: 3,
      completionTokens: 4,
      costUsd: 0.25,
      cached: false,
      cacheTier: undefined,
      status: "ok" as const,
      errorCode: undefined,
      latencyMs: 12,
      correlationId: "corr, with comma",
      createdAt: new Date(createdAt),
    });
    await createPrismaUsageStore(cluster.database.prisma).insertMany([
      record("exporter", "2030-01-01T10:00:00Z", "first"),
      record("exporter", "2030-01-02T10:00:00Z", "second"),
      record("exporter", "2030-02-01T00:00:00Z", "outside the range"),
      record("someone-else", "2030-01-01T11:00:00Z", "another tenant"),
    ]);
    const range = {
      startTime: timestampFromDate(new Date("2030-01-01T00:00:00Z")),
      endTime: timestampFromDate(new Date("2030-02-01T00:00:00Z")),
    };
    const run = async (format: ExportFormat) => {
      const { job } = await client.submitJob({
        spec: { kind: { case: "usageExport", value: { ...range, format } } },
      });
      let last: typeof job;
      for await (const message of client.watchJob({ id: job?.id ?? "" })) last = message.job;
      expect(last?.state).toBe(JobState.COMPLETED);
      return last?.result?.kind.case === "usageExport" ? last.result.kind.value : undefined;
    };
    const csv = await run(ExportFormat.CSV);
    expect(csv?.recordCount).toBe(2);
    const lines = csv?.content.trimEnd().split("\n") ?? [];
    expect(lines[0]).toBe(
      "id,createdAt,apiKeyId,modelRequested,provider,modelServed,promptTokens,completionTokens,costUsd,cached,cacheTier,status,errorCode,latencyMs,correlationId",
    );
    expect(lines.slice(1).map((line) => line.split(",")[3])).toEqual(["first", "second"]);
    expect(lines[1]).toContain(',"corr, with comma"');
    const jsonl = await run(ExportFormat.JSONL);
    const rows =
      jsonl?.content
        .trimEnd()
        .split("\n")
        .map((line) => JSON.parse(line)) ?? [];
    expect(rows.map((row) => [row.modelRequested, row.createdAt, row.costUsd])).toEqual([
      ["first", "2030-01-01T10:00:00.000Z", 0.25],
      ["second", "2030-01-02T10:00:00.000Z", 0.25],
    ]);
  });
});

describe("REST /v1/jobs", () => {
  async function rest(key: string, method: string, path: string, body?: unknown) {
    const response = await fetch(`${cluster.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      text,
      json: text.startsWith("{") ? JSON.parse(text) : undefined,
    };
  }

  it("submits, gets, lists, watches and refuses like the RPCs", async () => {
    const key = await cluster.keyFor("rest-tenant");
    const submitted = await rest(key, "POST", "/v1/jobs", {
      spec: { inference: { model, messages: [{ role: "ROLE_USER", content: "Hello" }], maxTokens: 3 } },
      priority: "JOB_PRIORITY_HIGH",
      idempotency_key: "rest-1",
    });
    expect(submitted.status).toBe(201);
    expect(submitted.json.job).toMatchObject({ state: "JOB_STATE_QUEUED", priority: "JOB_PRIORITY_HIGH" });
    const id = submitted.json.job.id as string;
    expect(
      (
        await rest(key, "POST", "/v1/jobs", {
          spec: { inference: { model, messages: [{ role: "ROLE_USER", content: "Hello" }], maxTokens: 3 } },
          idempotency_key: "rest-1",
        })
      ).json,
    ).toMatchObject({ job: { id }, deduplicated: true });

    // HEAD: the stream's headers, and no body (the watch is not kept open for one).
    const head = await rest(key, "HEAD", `/v1/jobs/${id}/events`);
    expect(head.status).toBe(200);
    expect(head.headers.get("content-type")).toBe("text/event-stream");
    expect(head.text).toBe("");
    const events = await rest(key, "GET", `/v1/jobs/${id}/events`);
    expect(events.headers.get("content-type")).toBe("text/event-stream");
    const states = events.text
      .split("\n\n")
      .filter(Boolean)
      .map((event) => JSON.parse(event.replace(/^data: /, "")).job.state);
    expect(states.at(-1)).toBe("JOB_STATE_COMPLETED");

    const got = await rest(key, "GET", `/v1/jobs/${id}`);
    expect(got.status).toBe(200);
    expect(got.json.job.result.inference.text).toBe("The sea is");
    const listed = await rest(key, "GET", "/v1/jobs?state=JOB_STATE_COMPLETED&page_size=10");
    expect(listed.json.jobs.map((job: { id: string }) => job.id)).toEqual([id]);
    expect((await rest(key, "GET", "/v1/jobs?state=JOB_STATE_QUEUED")).json.jobs).toEqual([]);

    const cancel = await rest(key, "POST", `/v1/jobs/${id}/cancel`);
    expect(cancel.status).toBe(400);
    expect(cancel.json.error.code).toBe("failed_precondition");

    const stranger = await cluster.keyFor("rest-stranger");
    const hidden = await rest(stranger, "GET", `/v1/jobs/${id}`);
    expect(hidden.status).toBe(404);
    expect(hidden.json.error.message).toMatch(/^job ".+" does not exist \(correlation id: /);

    const unknownType = await rest(key, "POST", "/v1/jobs", { spec: { translation: {} } });
    expect(unknownType.status).toBe(400);
    expect(unknownType.json.error.message).toMatch(/translation/);
    const noSpec = await rest(key, "POST", "/v1/jobs", {});
    expect(noSpec.status).toBe(400);
    expect(noSpec.json.error.message).toMatch(/^spec is required/);
    expect(noSpec.json.error.param).toBe("spec");
    // A refusal names its field in `param`, as the completions endpoints do.
    const privateCallback = await rest(key, "POST", "/v1/jobs", {
      spec: { inference: { model, messages: [{ role: "ROLE_USER", content: "Hi" }] } },
      callback_url: "https://10.1.2.3/hook",
    });
    expect(privateCallback.status).toBe(400);
    expect(privateCallback.json.error).toMatchObject({ param: "callback_url", code: "invalid_argument" });
    // An unknown path lists the routes served, these included.
    expect((await rest(key, "GET", "/v1/nope")).json.error.message).toMatch(
      /this API serves POST \/v1\/chat\/completions, .*POST \/v1\/jobs, GET \/v1\/jobs/,
    );
    expect((await rest(key, "GET", "/v1/jobs?state=SOMETHING")).status).toBe(400);
    const noScope = await cluster.keyFor("rest-no-scope", ["inference"]);
    expect((await rest(noScope, "GET", "/v1/jobs")).status).toBe(403);
  });

  it("answers what it does not serve with 404 or 405, never a 500 or a reset: inherited names, bad escapes, invented HTTP/2 methods", async () => {
    const key = await cluster.keyFor("rest-odd-paths");
    for (const action of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
      const answer = await rest(key, "GET", `/v1/jobs/x/${action}`);
      expect(answer.status, action).toBe(404);
      expect(answer.json.error.code, action).toBe("unknown_url");
    }
    const badEscape = await rest(key, "GET", "/v1/jobs/%ZZ");
    expect(badEscape.status).toBe(404);
    expect(badEscape.json.error.message).toMatch(/^job "%ZZ" does not exist \(correlation id: /);

    // Over HTTP/2 a method is any token: one named after an object's property is 405, as any other.
    const session = http2.connect(cluster.baseUrl);
    try {
      const stream = session.request({
        ":method": "constructor",
        ":path": "/v1/models",
        authorization: `Bearer ${key}`,
      });
      const [headers] = (await once(stream, "response")) as [http2.IncomingHttpHeaders];
      stream.resume();
      await once(stream, "end");
      expect(headers[":status"]).toBe(405);
      expect(headers.allow).toBe("GET, HEAD");
    } finally {
      session.close();
    }
  });
});

describe("the queue dashboard", () => {
  it("serves Bull Board on the worker's port to admin keys only", async () => {
    const [worker] = cluster.workers;
    const url = `http://127.0.0.1:${worker?.port}/admin/queues`;
    const basic = (key: string) => ({
      authorization: `Basic ${Buffer.from(`admin:${key}`).toString("base64")}`,
    });
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: basic(await cluster.keyFor("not-admin")) })).status).toBe(403);
    const page = await fetch(url, { headers: basic(cluster.adminKey) });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    const api = await fetch(`${url}/api/queues`, {
      headers: { authorization: `Bearer ${cluster.adminKey}` },
    });
    const { queues } = (await api.json()) as { queues: Array<{ name: string }> };
    expect(queues.map((queue) => queue.name).sort()).toEqual(["noa-dead-letter", "noa-jobs", "noa-webhooks"]);
  });
});

/** Whether a request since the `seen`-th one took the queued stall (so it is not left for a later one). */
function stalledSince(seen: number): boolean {
  return cluster.openai.requests.slice(seen).some((request) => request.fault?.kind === "stall-mid-stream");
}

describe("a worker killed mid-job", () => {
  it("loses nothing: the job completes on the other worker and the webhook fires once", async () => {
    const client = cluster.client(await cluster.keyFor("sigkill"));
    cluster.openai.enqueueFaults({ kind: "stall-mid-stream", afterChunks: 2 });
    const { job } = await client.submitJob({
      spec: { kind: inference(8, "killed mid-job") },
      callbackUrl: cluster.webhooks.url("sigkill"),
    });
    const id = job?.id ?? "";
    const started = (worker: (typeof cluster.workers)[number]) =>
      worker.logs.some((line) => line.msg === "job attempt started" && line.jobId === id);
    let victim: (typeof cluster.workers)[number] | undefined;
    await vi.waitFor(() => {
      victim = cluster.workers.find(started);
      expect(victim).toBeDefined();
    });
    await vi.waitFor(() =>
      expect(
        cluster.openai.requests.find((request) => JSON.stringify(request.body).includes("killed mid-job"))
          ?.chunksSent,
      ).toBe(2),
    );
    victim?.process.kill("SIGKILL");
    await victim?.exited;
    const survivor = cluster.workers.find((worker) => worker !== victim);

    let last: typeof job;
    for await (const message of client.watchJob({ id })) last = message.job;
    expect(last?.state).toBe(JobState.COMPLETED);
    // Log lines are written in batches (up to 20 ms after they are logged): the job's end comes first.
    await vi.waitFor(() =>
      expect(survivor?.logs.some((line) => line.msg === "job completed" && line.jobId === id)).toBe(true),
    );
    await vi.waitFor(async () => {
      expect((await client.getJob({ id })).job?.webhookDeliveries).toHaveLength(1);
    });
    expect(cluster.webhooks.received.filter((hook) => hook.path === "/hooks/sigkill")).toHaveLength(1);
  });

  // Starts two worker processes of its own, as the next one does.
  it("on SIGTERM lets running jobs finish for the grace period, then releases them to another worker", {
    timeout: 180_000,
  }, async () => {
    const alive = (worker: (typeof cluster.workers)[number]) =>
      worker.process.exitCode === null && worker.process.signalCode === null;
    const leaving = await cluster.startWorker({ NOA_SHUTDOWN_GRACE_MS: "300" });
    for (const worker of cluster.workers.filter((entry) => entry !== leaving && alive(entry))) {
      worker.process.kill("SIGTERM");
      expect(await worker.exited).toBe(0);
    }
    const client = cluster.client(await cluster.keyFor("sigterm"));
    const seen = cluster.openai.requests.length;
    cluster.openai.enqueueFaults({ kind: "stall-mid-stream", afterChunks: 1 });
    const { job } = await client.submitJob({ spec: { kind: inference(8, "released on shutdown") } });
    const id = job?.id ?? "";
    await vi.waitFor(async () => expect((await client.getJob({ id })).job?.state).toBe(JobState.ACTIVE));
    // The stall must be the leaving worker's: left in the queue, it would hang the next worker's attempt.
    await vi.waitFor(() => expect(stalledSince(seen)).toBe(true));
    const next = await cluster.startWorker();

    leaving.process.kill("SIGTERM");
    expect(await leaving.exited).toBe(0);
    // Its last lines may still be on their way through the pipe when the exit is seen.
    await vi.waitFor(() =>
      expect(
        leaving.logs.some((line) => line.msg === "job released to the queue: the worker is shutting down"),
      ).toBe(true),
    );
    let last: typeof job;
    for await (const message of client.watchJob({ id })) last = message.job;
    expect(last).toMatchObject({ state: JobState.COMPLETED, attempts: 1 });
    await vi.waitFor(() =>
      expect(next.logs.some((line) => line.msg === "job completed" && line.jobId === id)).toBe(true),
    );
  });

  // Starts two worker processes of its own: on a loaded CI machine that alone can take a minute.
  it("dead-letters a job whose workers keep dying, and RetryJob runs it again", {
    timeout: 180_000,
  }, async () => {
    const alive = (worker: (typeof cluster.workers)[number]) =>
      worker.process.exitCode === null && worker.process.signalCode === null;
    // Workers that let a job stall once at most; the others leave.
    const fragile = [
      await cluster.startWorker({ NOA_WORKER_MAX_STALLED_COUNT: "0" }),
      await cluster.startWorker({ NOA_WORKER_MAX_STALLED_COUNT: "0" }),
    ];
    for (const worker of cluster.workers.filter((entry) => !fragile.includes(entry) && alive(entry))) {
      worker.process.kill("SIGTERM");
      await worker.exited;
    }
    const client = cluster.client(await cluster.keyFor("stalls"));
    const seen = cluster.openai.requests.length;
    cluster.openai.enqueueFaults({ kind: "stall-mid-stream", afterChunks: 1 });
    const { job } = await client.submitJob({ spec: { kind: inference(8, "crashes its worker") } });
    const id = job?.id ?? "";
    let victim: (typeof cluster.workers)[number] | undefined;
    await vi.waitFor(() => {
      victim = fragile.find((worker) =>
        worker.logs.some((line) => line.msg === "job attempt started" && line.jobId === id),
      );
      expect(victim).toBeDefined();
    });
    // Killed only once its request reached the stalling upstream: killed before, it would leave the
    // stall queued for the retried attempt, which would then never end.
    await vi.waitFor(() => expect(stalledSince(seen)).toBe(true));
    victim?.process.kill("SIGKILL");
    await victim?.exited;

    let last: typeof job;
    for await (const message of client.watchJob({ id })) last = message.job;
    expect(last).toMatchObject({
      state: JobState.DEAD_LETTERED,
      error: { code: "ABORTED", retryable: true },
    });
    expect((await cluster.queues.deadLetter.getJob(id))?.data.error.code).toBe("ABORTED");
    await client.retryJob({ id });
    for await (const message of client.watchJob({ id })) last = message.job;
    expect(last?.state).toBe(JobState.COMPLETED);
  });
});
