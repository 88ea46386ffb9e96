import { create } from "@bufbuild/protobuf";
import { JobSpecSchema, Role } from "@noa/proto";
import { describe, expect, it, vi } from "vitest";
import { createInMemoryJobStore } from "./__fixtures__/create-in-memory-job-store.js";
import { createJobService } from "./create-job-service.js";
import type { JobQueues } from "./job-queues.js";

describe("createJobService with a queue that does not answer", () => {
  it("answers the submission as queued and logs the late enqueue, and its failure, with the job's correlation id", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const at = (fields: object | string, msg?: string) =>
      lines.push(typeof fields === "string" ? { msg: fields } : { ...fields, msg });
    let failEnqueue: (error: Error) => void = () => {};
    const queues = {
      enqueue: () =>
        new Promise<void>((_, reject) => {
          failEnqueue = reject;
        }),
    } as unknown as JobQueues;
    const service = createJobService({
      store: createInMemoryJobStore(),
      queues,
      events: { publish: async () => {}, subscribe: () => () => {}, close: async () => {} },
      callbackPolicy: { allowHttp: false, allowLoopback: false, allowPrivate: false },
      maxAttempts: 3,
      enqueueTimeoutMs: 10,
      logger: { debug: at, info: at, warn: at, error: at },
    });

    const { job } = await service.submit({
      tenant: "acme",
      apiKeyId: undefined,
      tokenBudget: undefined,
      correlationId: "corr-late-7",
      spec: create(JobSpecSchema, {
        kind: {
          case: "inference",
          value: { model: "local/m", messages: [{ role: Role.USER, content: "hi" }] },
        },
      }),
      priority: "medium",
      callbackUrl: undefined,
      idempotencyKey: undefined,
    });
    expect(job.state).toBe("queued");
    failEnqueue(new Error("Connection is closed."));

    await vi.waitFor(() => expect(lines).toHaveLength(2));
    expect(lines).toEqual([
      expect.objectContaining({
        jobId: job.id,
        correlationId: "corr-late-7",
        msg: expect.stringMatching(/in time/),
      }),
      expect.objectContaining({
        jobId: job.id,
        correlationId: "corr-late-7",
        msg: expect.stringMatching(/late enqueue failed/),
      }),
    ]);
  });
});

describe("createJobService where no worker can run jobs (notRunnable)", () => {
  it("still refuses a bad submission for what is wrong with it, and a good one as not runnable", async () => {
    const service = createJobService({
      store: createInMemoryJobStore(),
      queues: { enqueue: async () => {} } as unknown as JobQueues,
      events: { publish: async () => {}, subscribe: () => () => {}, close: async () => {} },
      callbackPolicy: { allowHttp: false, allowLoopback: false, allowPrivate: false },
      maxAttempts: 3,
      notRunnable: "jobs need DATABASE_URL",
    });
    const submission = {
      tenant: "acme",
      apiKeyId: undefined,
      tokenBudget: undefined,
      correlationId: "c",
      spec: create(JobSpecSchema, {
        kind: {
          case: "inference",
          value: { model: "local/m", messages: [{ role: Role.USER, content: "hi" }] },
        },
      }),
      priority: "medium" as const,
      callbackUrl: undefined,
      idempotencyKey: undefined,
    };
    await expect(service.submit({ ...submission, spec: create(JobSpecSchema, {}) })).rejects.toMatchObject({
      code: "invalid-argument",
    });
    await expect(
      service.submit({ ...submission, callbackUrl: "https://169.254.169.254/x" }),
    ).rejects.toMatchObject({ code: "invalid-argument", field: "callback_url" });
    await expect(service.submit(submission)).rejects.toMatchObject({
      code: "failed-precondition",
      message: "jobs need DATABASE_URL",
    });
  });
});

describe("createJobService retrying a job twice at once", () => {
  it("tells the loser the state the winner left the job in", async () => {
    const store = createInMemoryJobStore();
    const service = createJobService({
      store,
      queues: {
        enqueue: async () => {},
        requeue: async () => true,
        deadLetter: { remove: async () => 1 },
      } as unknown as JobQueues,
      events: { publish: async () => {}, subscribe: () => () => {}, close: async () => {} },
      callbackPolicy: { allowHttp: false, allowLoopback: false, allowPrivate: false },
      maxAttempts: 3,
    });
    const { job } = await service.submit({
      tenant: "acme",
      apiKeyId: undefined,
      tokenBudget: undefined,
      correlationId: "c",
      spec: create(JobSpecSchema, {
        kind: {
          case: "inference",
          value: { model: "local/m", messages: [{ role: Role.USER, content: "hi" }] },
        },
      }),
      priority: "medium",
      callbackUrl: undefined,
      idempotencyKey: undefined,
    });
    await store.update(job.id, ["queued"], {
      state: "failed",
      finishedAt: new Date(),
      updatedAt: new Date(),
    });

    const outcomes = await Promise.allSettled([service.retry("acme", job.id), service.retry("acme", job.id)]);
    expect(outcomes.map((outcome) => outcome.status).sort()).toEqual(["fulfilled", "rejected"]);
    const lost = outcomes.find((outcome) => outcome.status === "rejected");
    expect(lost?.reason).toMatchObject({
      code: "failed-precondition",
      message: `job "${job.id}" is queued; only dead-lettered or failed jobs can be retried`,
    });
  });
});
