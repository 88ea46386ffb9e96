import { describe, expect, it } from "vitest";
import { parseJobsConfig } from "./parse-jobs-config.js";

describe("parseJobsConfig", () => {
  it("has the seed design's defaults, with every callback relaxation off", () => {
    expect(parseJobsConfig({})).toEqual({
      prefix: "noa",
      maxAttempts: 3,
      backoff: { baseMs: 1_000, maxMs: 300_000, jitter: 0.3 },
      callbackPolicy: { allowHttp: false, allowLoopback: false, allowPrivate: false },
      webhookRetry: { attempts: 5, baseDelayMs: 1_000 },
    });
  });

  it("reads every variable", () => {
    expect(
      parseJobsConfig({
        NOA_JOBS_PREFIX: "staging",
        NOA_JOB_MAX_ATTEMPTS: "5",
        NOA_JOB_BACKOFF_BASE_MS: "50",
        NOA_JOB_BACKOFF_MAX_MS: "200",
        NOA_JOB_BACKOFF_JITTER: "0",
        NOA_WEBHOOK_ALLOW_HTTP: "true",
        NOA_WEBHOOK_ALLOW_LOOPBACK: "1",
        NOA_WEBHOOK_ALLOW_PRIVATE: "false",
        NOA_WEBHOOK_MAX_ATTEMPTS: "2",
        NOA_WEBHOOK_BACKOFF_BASE_MS: "10",
      }),
    ).toEqual({
      prefix: "staging",
      maxAttempts: 5,
      backoff: { baseMs: 50, maxMs: 200, jitter: 0 },
      callbackPolicy: { allowHttp: true, allowLoopback: true, allowPrivate: false },
      webhookRetry: { attempts: 2, baseDelayMs: 10 },
    });
  });

  it.each([
    [{ NOA_JOBS_PREFIX: "a:b" }, /^NOA_JOBS_PREFIX must be 1-64 letters, digits, _ or -/],
    [{ NOA_JOB_MAX_ATTEMPTS: "0" }, /^NOA_JOB_MAX_ATTEMPTS must be an integer from 1 to 100 \(got "0"\)/],
    [{ NOA_JOB_BACKOFF_JITTER: "2" }, /^NOA_JOB_BACKOFF_JITTER must be a number from 0 to 1/],
    [{ NOA_WEBHOOK_ALLOW_LOOPBACK: "yes" }, /^NOA_WEBHOOK_ALLOW_LOOPBACK must be true or false/],
  ])("refuses %o naming the variable", (env, message) => {
    expect(() => parseJobsConfig(env)).toThrow(message);
  });
});
