import { once } from "node:events";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { NotificationChannel, NotificationJobSchema } from "@noa/proto";
import { afterEach, describe, expect, it } from "vitest";
import type { JobRecord } from "../job-record.js";
import { verifyWebhook } from "../webhooks/webhook-signature.js";
import { JobAttemptError } from "./job-attempt-error.js";
import { type NotificationDeps, runNotificationJob } from "./run-notification-job.js";

const secret = "whsec_0123456789abcdef0123456789abcdef";
const servers: Array<ReturnType<typeof createServer>> = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.close();
    server.closeAllConnections();
    await once(server, "close");
  }
});

/**
 * A notification target on loopback that answers 200 (`ok`), never answers (`never`), or answers 200
 * then drips its body for ever (`drip`); `requests` holds what came, `arrived` resolves with the first
 * request, `hungUp` once the caller has closed a connection.
 */
async function target(answer: "ok" | "never" | "drip") {
  const requests: Array<{ body: string; headers: IncomingMessage["headers"] }> = [];
  let hangUp!: () => void;
  const hungUp = new Promise<void>((resolve) => {
    hangUp = resolve;
  });
  let arrive!: () => void;
  const arrived = new Promise<void>((resolve) => {
    arrive = resolve;
  });
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => {
      body += chunk.toString("utf8");
    });
    req.on("end", () => {
      requests.push({ body, headers: req.headers });
      arrive();
      if (answer === "ok") return res.writeHead(200).end();
      if (answer === "drip") {
        res.writeHead(200);
        const drip = setInterval(() => res.write("."), 50);
        res.on("close", () => clearInterval(drip));
      }
    });
    res.on("close", () => hangUp());
  });
  servers.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/notify`,
    requests,
    arrived,
    hungUp,
  };
}

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
    const { url, requests } = await target("ok");
    const result = await runNotificationJob({
      job,
      notification: notify(url),
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
    const { url, arrived, hungUp } = await target("never");
    const controller = new AbortController();
    const running = runNotificationJob({
      job,
      notification: notify(url),
      deps: deps(60_000),
      signal: controller.signal,
    });
    await arrived;
    controller.abort("cancelled");
    await expect(running).rejects.toBeInstanceOf(JobAttemptError);
    await hungUp;
  });

  it("fails the attempt as retryable when the target drips its answer past the timeout", async () => {
    const { url, hungUp } = await target("drip");
    const running = runNotificationJob({
      job,
      notification: notify(url),
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
