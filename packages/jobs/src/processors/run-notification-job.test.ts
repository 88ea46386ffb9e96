import { create } from "@bufbuild/protobuf";
import { NotificationChannel, NotificationJobSchema } from "@noa/proto";
import { afterEach, describe, expect, it } from "vitest";
import { closeWebhookTargets, startWebhookTarget } from "../__fixtures__/start-webhook-target.js";
import type { JobRecord } from "../job-record.js";
import { verifyWebhook } from "../webhooks/webhook-signature.js";
import { JobAttemptError } from "./job-attempt-error.js";
import { type NotificationDeps, runNotificationJob } from "./run-notification-job.js";

const secret = "whsec_0123456789abcdef0123456789abcdef";
afterEach(closeWebhookTargets);

const job = {
  id: "5b0f7a52-8a8e-4a4e-9d55-0c2f0c0f1a01",
  tenant: "acme",
  correlationId: "corr-notify",
} as JobRecord;

function deps(timeoutMs: number): NotificationDeps {
  return {
    webhook: { secret, policy: { allowHttp: true, allowLoopback: true, allowPrivate: false }, timeoutMs },
  };
}

function notify(to: string) {
  return create(NotificationJobSchema, {
    channel: NotificationChannel.WEBHOOK,
    to,
    subject: "Done",
    body: "The batch is ready",
  });
}

describe("runNotificationJob over the webhook channel", () => {
  it("POSTs subject, body, job id and the submitting tenant, signed together", async () => {
    const { url, requests } = await startWebhookTarget(200);
    const result = await runNotificationJob({
      job,
      notification: notify(url("/notify")),
      deps: deps(5_000),
      signal: new AbortController().signal,
    });
    expect(result.kind).toMatchObject({ case: "notification", value: { statusCode: 200 } });
    const [request] = requests;
    // The receiver learns whose message it is from the signed body, so another tenant's job aimed at
    // this URL is told apart from its own.
    expect(JSON.parse(request?.body ?? "")).toEqual({
      subject: "Done",
      body: "The batch is ready",
      job_id: job.id,
      tenant: "acme",
    });
    expect(
      verifyWebhook({
        secret,
        body: request?.body ?? "",
        header: String(request?.headers["x-noa-signature"]),
      }),
    ).toBe(true);
  });

  it("stops the POST when the attempt is aborted (CancelJob), freeing the worker slot", async () => {
    const { url, arrived, hungUp } = await startWebhookTarget("never");
    const controller = new AbortController();
    const running = runNotificationJob({
      job,
      notification: notify(url("/notify")),
      deps: deps(60_000),
      signal: controller.signal,
    });
    await arrived;
    controller.abort("cancelled");
    await expect(running).rejects.toBeInstanceOf(JobAttemptError);
    await hungUp;
  });

  it("fails the attempt as retryable when the target drips its answer past the timeout", async () => {
    const { url, hungUp } = await startWebhookTarget("drip");
    const running = runNotificationJob({
      job,
      notification: notify(url("/notify")),
      deps: deps(300),
      signal: new AbortController().signal,
    });
    await expect(running).rejects.toMatchObject({
      failure: {
        code: "UNAVAILABLE",
        retryable: true,
        message:
          "the notification webhook failed: timed out: the target answered 200 but did not finish within 300 ms",
      },
    });
    await hungUp;
  });
});
