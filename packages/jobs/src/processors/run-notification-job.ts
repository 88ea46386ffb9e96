import { create } from "@bufbuild/protobuf";
import { type JobResult, JobResultSchema, NotificationChannel, type NotificationJob } from "@noa/proto";
import type { JobRecord } from "../job-record.js";
import { postWebhook } from "../webhooks/post-webhook.js";
import type { CallbackPolicy } from "../webhooks/ssrf-guard.js";
import { JobAttemptError } from "./job-attempt-error.js";

/** Sends e-mail or Slack messages; the worker is given one per channel it supports. */
export interface NotificationSender {
  send(message: { to: string; subject: string; body: string; signal: AbortSignal }): Promise<void>;
}

/** The senders and webhook settings a notification job uses. */
export interface NotificationDeps {
  email?: NotificationSender;
  slack?: NotificationSender;
  webhook: { secret: string; policy: CallbackPolicy; timeoutMs: number };
}

/**
 * `notification`: the webhook channel POSTs `{subject, body, job_id, tenant}` signed like job callbacks
 * (the tenant is in the signed body so a receiver can refuse another tenant's message; a 5xx, 408, 429 or
 * no answer within the timeout retries, another status fails the job); the attempt's signal ends the POST
 * (CancelJob, shutdown). Email and Slack go through their configured sender, and fail at once with
 * FAILED_PRECONDITION when the worker has none.
 */
export async function runNotificationJob(options: {
  job: JobRecord;
  notification: NotificationJob;
  deps: NotificationDeps;
  signal: AbortSignal;
}): Promise<JobResult> {
  const { job, notification, deps, signal } = options;
  const result = (statusCode: number) =>
    create(JobResultSchema, {
      kind: { case: "notification", value: { channel: notification.channel, statusCode } },
    });
  if (notification.channel === NotificationChannel.WEBHOOK) {
    const attempt = await postWebhook({
      url: notification.to,
      body: JSON.stringify({
        subject: notification.subject,
        body: notification.body,
        job_id: job.id,
        tenant: job.tenant,
      }),
      secret: deps.webhook.secret,
      headers: { "x-noa-job-id": job.id, "x-correlation-id": job.correlationId },
      policy: deps.webhook.policy,
      timeoutMs: deps.webhook.timeoutMs,
      signal,
    });
    if (attempt.delivered) return result(attempt.statusCode);
    const retryable =
      attempt.statusCode === 0 ||
      attempt.statusCode >= 500 ||
      attempt.statusCode === 408 ||
      attempt.statusCode === 429;
    throw new JobAttemptError({
      code: retryable ? "UNAVAILABLE" : "FAILED_PRECONDITION",
      message: `the notification webhook failed: ${attempt.error ?? "no answer"}`,
      retryable: retryable && !attempt.error?.startsWith("refused"),
    });
  }
  const name = notification.channel === NotificationChannel.EMAIL ? "email" : "slack";
  const sender = notification.channel === NotificationChannel.EMAIL ? deps.email : deps.slack;
  if (!sender) {
    throw new JobAttemptError({
      code: "FAILED_PRECONDITION",
      message: `no ${name} sender is configured on the workers; use the webhook channel or configure one`,
      retryable: false,
    });
  }
  await sender.send({ to: notification.to, subject: notification.subject, body: notification.body, signal });
  return result(0);
}
