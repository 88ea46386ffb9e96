import { randomUUID } from "node:crypto";
import { create, toJson } from "@bufbuild/protobuf";
import { ROOT_CONTEXT } from "@noa/observability";
import { JobResultSchema, JobSpecSchema, NotificationChannel } from "@noa/proto";
import { afterEach, describe, expect, it } from "vitest";
import { createInMemoryJobStore } from "../__fixtures__/create-in-memory-job-store.js";
import { openTestQueues } from "../__fixtures__/open-test-queues.js";
import { closeWebhookTargets, startWebhookTarget } from "../__fixtures__/start-webhook-target.js";
import type { JobEvents } from "../job-events.js";
import type { JobQueues } from "../job-queues.js";
import type { JsonValue } from "../job-record.js";
import { enqueueWebhook } from "../webhooks/enqueue-webhook.js";
import { verifyWebhook } from "../webhooks/webhook-signature.js";
import { createWebhookProcessor } from "./create-webhook-processor.js";

const secret = "whsec_0123456789abcdef0123456789abcdef";
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await closeWebhookTargets();
});

/** A callback receiver on loopback answering `statuses` in turn (then 200), keeping what it was sent. */
async function receiver(statuses: number[]) {
  const target = await startWebhookTarget(statuses);
  return { url: target.url("/hooks/noa"), received: target.requests };
}

/** The webhook processor over an in-memory store and test queues of its own, with a job of `tenant`. */
async function setUp(callbackUrl: string, tenant = "acme") {
  const { queues, close } = openTestQueues();
  cleanups.push(close);
  const store = createInMemoryJobStore();
  const events: JobEvents = { publish: async () => {}, subscribe: () => () => {}, close: async () => {} };
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const deliver = createWebhookProcessor({
    store,
    events,
    logger: quiet,
    secret,
    policy: { allowHttp: true, allowLoopback: true, allowPrivate: false },
    timeoutMs: 5_000,
  });
  const spec = create(JobSpecSchema, {
    kind: {
      case: "notification",
      value: { channel: NotificationChannel.WEBHOOK, to: "https://example.com/x", subject: "s", body: "b" },
    },
  });
  const { job } = await store.create({
    id: randomUUID(),
    tenant,
    apiKeyId: "key-1",
    tokenBudget: undefined,
    type: "notification",
    priority: "medium",
    spec: toJson(JobSpecSchema, spec) as JsonValue,
    maxAttempts: 1,
    idempotencyKey: undefined,
    callbackUrl,
    correlationId: "corr-hook",
    createdAt: new Date(Date.now() - 120_000),
  });
  return { queues, store, deliver, job };
}

/** The callbacks queued so far that are not in `seen`. */
async function newCallbacks(queues: JobQueues, seen: string[] = []) {
  return (await queues.webhooks.getWaiting()).filter((callback) => !seen.includes(callback.id ?? ""));
}

const completedResult = toJson(
  JobResultSchema,
  create(JobResultSchema, {
    kind: { case: "notification", value: { channel: NotificationChannel.WEBHOOK, statusCode: 200 } },
  }),
) as JsonValue;

describe("createWebhookProcessor", () => {
  it("delivers the finish a callback was queued for, even after RetryJob ran the job again, with a delivery id per finish", async () => {
    const { url, received } = await receiver([500]);
    const { queues, store, deliver, job } = await setUp(url);
    const firstFinish = new Date(Date.now() - 60_000);
    await store.update(job.id, ["queued"], { state: "active", attempts: 1, updatedAt: firstFinish });
    const deadLettered = await store.update(job.id, ["active"], {
      state: "dead_lettered",
      error: { code: "UNAVAILABLE", message: "the model provider failed to answer", retryable: true },
      finishedAt: firstFinish,
      updatedAt: firstFinish,
    });
    await enqueueWebhook(queues, deadLettered ?? job, ROOT_CONTEXT);
    const [first] = await newCallbacks(queues);
    if (!first) throw new Error("the dead-lettered job's callback was not queued");
    await expect(deliver(first)).rejects.toThrow("the target answered 500");

    // The user retries the job (RetryJob); it runs again and completes while the first callback waits.
    const secondFinish = new Date(Date.now() - 30_000);
    await store.update(job.id, ["dead_lettered"], {
      state: "queued",
      attempts: 0,
      progress: 0,
      error: null,
      result: null,
      nextAttemptAt: null,
      finishedAt: null,
      updatedAt: secondFinish,
    });
    await store.update(job.id, ["queued"], { state: "active", attempts: 1, updatedAt: secondFinish });
    const completed = await store.update(job.id, ["active"], {
      state: "completed",
      result: completedResult,
      progress: 1,
      finishedAt: secondFinish,
      updatedAt: secondFinish,
    });
    await enqueueWebhook(queues, completed ?? job, ROOT_CONTEXT);
    const [second] = await newCallbacks(queues, [first.id ?? ""]);
    if (!second) throw new Error("the completed job's callback was not queued");

    // BullMQ retries the first callback (its second attempt), then runs the second one.
    first.attemptsMade = 1;
    await deliver(first);
    await deliver(second);

    const bodies = received.map((hook) => JSON.parse(hook.body));
    const deliveryIds = received.map((hook) => hook.headers["x-noa-delivery-id"]);
    // The retried first callback still says what happened then: dead-lettered, with its error and time.
    expect(bodies[1].job).toMatchObject({
      id: job.id,
      state: "JOB_STATE_DEAD_LETTERED",
      finishTime: firstFinish.toISOString(),
      error: { code: "UNAVAILABLE" },
    });
    expect(bodies[1].job.result).toBeUndefined();
    expect(bodies[2].job).toMatchObject({
      state: "JOB_STATE_COMPLETED",
      finishTime: secondFinish.toISOString(),
      result: { notification: { statusCode: 200 } },
    });
    // Dedupe on the delivery id: the same for both attempts of the first finish, another for the second.
    expect(deliveryIds[0]).toBeTruthy();
    expect(deliveryIds[1]).toBe(deliveryIds[0]);
    expect(deliveryIds[2]).toBeTruthy();
    expect(deliveryIds[2]).not.toBe(deliveryIds[0]);
    expect(bodies.map((body) => body.delivery_id)).toEqual(deliveryIds);
    expect((await store.get(job.id))?.deliveries).toMatchObject([
      { attempt: 1, statusCode: 500, delivered: false },
      { attempt: 2, statusCode: 200, delivered: true },
      { attempt: 1, statusCode: 200, delivered: true },
    ]);
  });

  it("names the job's tenant in the signed body, so a receiver can refuse another tenant's callback", async () => {
    const { url, received } = await receiver([]);
    const { queues, store, deliver, job } = await setUp(url, "acme");
    const at = new Date();
    await store.update(job.id, ["queued"], { state: "active", attempts: 1, updatedAt: at });
    const cancelled = await store.update(job.id, ["active"], {
      state: "cancelled",
      finishedAt: at,
      updatedAt: at,
    });
    await enqueueWebhook(queues, cancelled ?? job, ROOT_CONTEXT);
    const [callback] = await newCallbacks(queues);
    if (!callback) throw new Error("the callback was not queued");
    await deliver(callback);

    const [hook] = received;
    const header = String(hook?.headers["x-noa-signature"]);
    expect(JSON.parse(hook?.body ?? "")).toMatchObject({ tenant: "acme", job: { id: job.id } });
    expect(verifyWebhook({ secret, body: hook?.body ?? "", header })).toBe(true);
    // Relabelled for another tenant, the body no longer verifies.
    const relabelled = (hook?.body ?? "").replace('"tenant":"acme"', '"tenant":"globex"');
    expect(relabelled).not.toBe(hook?.body);
    expect(verifyWebhook({ secret, body: relabelled, header })).toBe(false);
  });

  it("does not call a finish back twice when a worker runs the same attempt again (stalled-job recovery)", async () => {
    const { url, received } = await receiver([]);
    const { queues, store, deliver, job } = await setUp(url);
    const at = new Date();
    await store.update(job.id, ["queued"], { state: "active", attempts: 1, updatedAt: at });
    const failed = await store.update(job.id, ["active"], {
      state: "failed",
      error: { code: "FAILED_PRECONDITION", message: "no email sender", retryable: false },
      finishedAt: at,
      updatedAt: at,
    });
    await enqueueWebhook(queues, failed ?? job, ROOT_CONTEXT);
    const [callback] = await newCallbacks(queues);
    if (!callback) throw new Error("the callback was not queued");
    await deliver(callback);
    await deliver(callback);
    expect(received).toHaveLength(1);
  });
});
