import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPlayground } from "./__fixtures__/build-playground.js";
import { createTestClient, type TestClient } from "./__fixtures__/create-test-client.js";
import { chromiumArgs, findChromium } from "./__fixtures__/find-chromium.js";
import { type JobStack, jobModel, startJobStack } from "./__fixtures__/start-job-stack.js";
import { describeBffError, type WebJob } from "./client/create-bff-client.js";

/** Waits for what the page shows (a user's patience, not a deadline: a loaded CI machine may be slow). */
const poll = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 20_000, interval: 50 });

// jobs.* through a real @trpc/client (HTTP and SSE) against the BFF, in front of rpc-server serving
// JobService over PostgreSQL, Redis and BullMQ, with a real worker process running the jobs.
let stack: JobStack;
let user: TestClient;
let removeBuild: () => Promise<void> = async () => {};
beforeAll(async () => {
  const built = await buildPlayground();
  removeBuild = built.remove;
  stack = await startJobStack({ staticDir: built.dir });
  user = createTestClient(stack.bffUrl);
  await user.signIn(await stack.keyFor("bff-jobs"));
});
afterAll(async () => {
  await stack?.close();
  await removeBuild();
});

const inference = (maxTokens = 8) => ({
  kind: "inference" as const,
  model: jobModel,
  messages: [{ role: "user" as const, content: "Tell me about the sea" }],
  maxTokens,
});

/** Every state jobs.watch sent until the job reached a final one. */
function watch(client: TestClient, id: string) {
  const seen: WebJob[] = [];
  return new Promise<WebJob[]>((resolve, reject) => {
    client.trpc.jobs.watch.subscribe(
      { id },
      { onData: (job) => seen.push(job), onError: reject, onComplete: () => resolve(seen) },
    );
  });
}

describe("jobs", () => {
  it("submits an inference job, watches it live to completion, and reads it back", async () => {
    const { job, deduplicated } = await user.trpc.jobs.submit.mutate({ spec: inference(), priority: "high" });
    expect(deduplicated).toBe(false);
    expect(job).toMatchObject({
      state: "queued",
      priority: "high",
      final: false,
      spec: { kind: "inference" },
    });

    const seen = await watch(user, job.id);
    expect(seen.map((entry) => entry.state)).toContain("active");
    const last = seen.at(-1);
    expect(last).toMatchObject({
      state: "completed",
      final: true,
      progress: 1,
      result: {
        kind: "inference",
        text: "The sea is vast and deep and blue,",
        usage: { completionTokens: 8 },
        model: jobModel,
      },
    });
    expect(await user.trpc.jobs.get.query({ id: job.id })).toEqual(last);
    const { jobs } = await user.trpc.jobs.list.query({ state: "completed" });
    expect(jobs.map((entry) => entry.id)).toContain(job.id);
  });

  it("shows a dead-lettered job with its error, and retries it to completion", async () => {
    stack.openai.enqueueFaults({ kind: "status", status: 500 }, { kind: "status", status: 500 });
    const { job } = await user.trpc.jobs.submit.mutate({ spec: inference(4) });
    const seen = await watch(user, job.id);
    expect(seen.map((entry) => entry.state)).toContain("retrying");
    expect(seen.at(-1)).toMatchObject({
      state: "dead-lettered",
      attempts: 2,
      error: { code: "UNAVAILABLE", retryable: true },
    });
    const { jobs } = await user.trpc.jobs.list.query({ state: "dead-lettered" });
    expect(jobs.map((entry) => entry.id)).toEqual([job.id]);

    expect(await user.trpc.jobs.retry.mutate({ id: job.id })).toMatchObject({ state: "queued" });
    expect((await watch(user, job.id)).at(-1)).toMatchObject({ state: "completed" });
    const again = describeBffError(await user.trpc.jobs.retry.mutate({ id: job.id }).catch((error) => error));
    expect(again.code).toBe("PRECONDITION_FAILED");
  });

  it("validates submissions field by field, and keeps tenants apart", async () => {
    const bad = describeBffError(
      await user.trpc.jobs.submit
        .mutate({ spec: { ...inference(), maxTokens: -1 }, callbackUrl: "ftp://example.com/hook" })
        .catch((error) => error),
    );
    expect(bad.code).toBe("BAD_REQUEST");
    expect(bad.fieldErrors.map((field) => field.path).sort()).toEqual(["callbackUrl", "spec.maxTokens"]);

    const { job } = await user.trpc.jobs.submit.mutate({ spec: inference(2) });
    const stranger = createTestClient(stack.bffUrl);
    await stranger.signIn(await stack.keyFor("another-tenant"));
    const hidden = describeBffError(
      await stranger.trpc.jobs.get.query({ id: job.id }).catch((error) => error),
    );
    expect(hidden.code).toBe("NOT_FOUND");
    expect(hidden.correlationId).toMatch(/\S/);
    expect((await stranger.trpc.jobs.list.query({})).jobs).toEqual([]);
  });
});

const executablePath = findChromium();
describe.skipIf(!executablePath)("the playground's jobs tab in a browser", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath, headless: true, args: chromiumArgs });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("submits a job, shows it live to its result, and lists dead-lettered jobs with Retry", async () => {
    const page = await browser.newPage();
    await page.goto(stack.bffUrl);
    await page.getByLabel("API key").fill(await stack.keyFor("bff-jobs-browser"));
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("tab", { name: "Jobs" }).click();
    const jobs = page.locator("#jobs-panel");

    await jobs.getByLabel("Prompt").fill("Tell me about the sea");
    await jobs.getByLabel("Max tokens").fill("6");
    await jobs.getByRole("button", { name: "Submit job" }).click();
    const first = jobs.locator(".job").first();
    await poll(() => first.locator(".state").textContent()).toBe("completed");
    expect(await first.locator(".job-result").textContent()).toBe("The sea is vast and deep");

    stack.openai.enqueueFaults({ kind: "status", status: 500 }, { kind: "status", status: 500 });
    await jobs.getByLabel("Prompt").fill("This one will fail");
    await jobs.getByRole("button", { name: "Submit job" }).click();
    await poll(() => jobs.locator(".job").first().locator(".state").textContent()).toBe("dead-lettered");
    await jobs.getByRole("button", { name: "Dead-lettered" }).click();
    await poll(() => jobs.locator(".job").count()).toBe(1);
    expect(await jobs.locator(".job .job-error").textContent()).toMatch(/^UNAVAILABLE: /);
    await jobs.getByRole("button", { name: "Retry" }).click();
    await poll(() => jobs.locator(".job").first().locator(".state").textContent()).toBe("completed");
    await page.close();
  });
});
