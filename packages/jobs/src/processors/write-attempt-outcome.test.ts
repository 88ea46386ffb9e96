import { describe, expect, it } from "vitest";
import { createInMemoryJobStore } from "../__fixtures__/create-in-memory-job-store.js";
import { AttemptTakenOverError } from "./attempt-taken-over-error.js";
import { writeAttemptOutcome } from "./write-attempt-outcome.js";

const at = new Date("2030-01-01T00:01:00Z");

/** A job whose run `run` is active. */
async function activeJob(run: number) {
  const store = createInMemoryJobStore();
  const { job } = await store.create({
    id: "job-1",
    tenant: "acme",
    apiKeyId: undefined,
    tokenBudget: undefined,
    type: "ai-inference",
    priority: "medium",
    spec: {},
    maxAttempts: 3,
    idempotencyKey: undefined,
    callbackUrl: undefined,
    correlationId: "corr-1",
    createdAt: at,
  });
  await store.update(job.id, ["queued"], { state: "active", attempts: run, updatedAt: at });
  return store;
}

const completed = { state: "completed", result: { ok: true }, finishedAt: at, updatedAt: at } as const;

describe("writeAttemptOutcome", () => {
  it("stores the outcome of the run the job is on", async () => {
    const store = await activeJob(1);
    const written = await writeAttemptOutcome({
      store,
      job: { id: "job-1", run: 1 },
      from: ["active"],
      patch: completed,
    });
    expect(written).toMatchObject({ state: "completed", attempts: 1 });
  });

  it("tells a run that a later one took the job over, and changes nothing", async () => {
    const store = await activeJob(2);
    const write = writeAttemptOutcome({
      store,
      job: { id: "job-1", run: 1 },
      from: ["active"],
      patch: completed,
    });
    await expect(write).rejects.toBeInstanceOf(AttemptTakenOverError);
    await expect(write).rejects.toMatchObject({ run: 1, laterRun: 2 });
    expect(await store.get("job-1")).toMatchObject({ state: "active", attempts: 2, result: undefined });
  });

  it("answers undefined for a job cancelled meanwhile", async () => {
    const store = await activeJob(1);
    await store.update("job-1", ["active"], { state: "cancelled", updatedAt: at });
    expect(
      await writeAttemptOutcome({ store, job: { id: "job-1", run: 1 }, from: ["active"], patch: completed }),
    ).toBeUndefined();
  });

  it("takes a write that timed out but applied as written, also one that changed the job's attempts itself", async () => {
    const store = await activeJob(2);
    store.failUpdates({ to: "queued", times: 1, afterApplying: true });
    const released = await writeAttemptOutcome({
      store,
      job: { id: "job-1", run: 2 },
      from: ["active"],
      patch: { state: "queued", attempts: 1, updatedAt: at },
      delaysMs: [0],
    });
    expect(released).toMatchObject({ state: "queued", attempts: 1 });
  });
});
