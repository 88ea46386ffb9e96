import { JobError, type JobService } from "@noa/jobs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeServer, startFakeServer } from "../__fixtures__/start-fake-server.js";

// A job service that knows no job: enough for the /v1/jobs routes to answer after admission.
const noJobs = {
  async list() {
    return { jobs: [], nextPageToken: undefined };
  },
  async get() {
    throw new JobError("not-found", "no such job");
  },
} as unknown as JobService;

const burst = 8;
let server: FakeServer;
beforeAll(async () => {
  server = await startFakeServer({ requestBurst: burst, jobs: noJobs });
});
afterAll(async () => {
  await server?.close();
});

function request(path: string, init: RequestInit & { key?: string } = {}) {
  return fetch(`${server.baseUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${init.key ?? server.adminKey}`, ...init.headers },
  });
}

/** The `x-ratelimit-*-requests` headers of an answer (null where one is missing). */
function rateLimitOf(response: Response) {
  return {
    limit: response.headers.get("x-ratelimit-limit-requests"),
    remaining: response.headers.get("x-ratelimit-remaining-requests"),
    reset: response.headers.get("x-ratelimit-reset-requests"),
  };
}

describe("x-ratelimit-* headers on the REST face", () => {
  it("say where the key's request bucket stands on every authenticated answer, errors and 429s included", async () => {
    const chat = (body: string) =>
      request("/v1/chat/completions", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
    // Each answer, in order, and what is left of the bucket after it.
    const answers: Array<[string, Response]> = [
      ["models", await request("/v1/models")],
      ["an unknown model", await request("/v1/models/fake%2Fno-such-model")],
      ["jobs", await request("/v1/jobs")],
      ["an unknown job", await request("/v1/jobs/00000000-0000-4000-8000-000000000000")],
      [
        "a completion",
        await chat(JSON.stringify({ model: "fake/short", messages: [{ role: "user", content: "hi" }] })),
      ],
      ["a malformed body", await chat('{"model": ')],
      ["/status", await request("/status")],
    ];
    expect(answers.map(([what, response]) => [what, response.status])).toEqual([
      ["models", 200],
      ["an unknown model", 404],
      ["jobs", 200],
      ["an unknown job", 404],
      ["a completion", 200],
      ["a malformed body", 400],
      ["/status", 200],
    ]);
    answers.forEach(([what, response], index) => {
      // Once each: a header set twice would come back as "n, n".
      expect(rateLimitOf(response), what).toEqual({
        limit: String(burst),
        remaining: String(burst - 1 - index),
        reset: expect.stringMatching(/^\d+s$/),
      });
    });

    // The bucket held one more; the next one is refused, and says the bucket is empty.
    expect((await request("/v1/models")).status).toBe(200);
    const refused = await request("/v1/models");
    expect(refused.status).toBe(429);
    expect(rateLimitOf(refused)).toEqual({
      limit: String(burst),
      remaining: "0",
      // The bucket admits the next request when Retry-After says.
      reset: `${refused.headers.get("retry-after")}s`,
    });
  });

  it("are not sent to a caller who is not authenticated, whose bucket no one knows", async () => {
    const response = await request("/v1/models", { key: "noa_not-a-key" });
    expect(response.status).toBe(401);
    expect(rateLimitOf(response)).toEqual({ limit: null, remaining: null, reset: null });
  });
});
