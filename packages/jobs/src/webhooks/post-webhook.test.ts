import { afterEach, describe, expect, it } from "vitest";
import { closeWebhookTargets, startWebhookTarget } from "../__fixtures__/start-webhook-target.js";
import { postWebhook } from "./post-webhook.js";
import type { CallbackPolicy } from "./ssrf-guard.js";
import { verifyWebhook } from "./webhook-signature.js";

const secret = "whsec_0123456789abcdef0123456789abcdef";
afterEach(closeWebhookTargets);

const loopbackAllowed: CallbackPolicy = { allowHttp: true, allowLoopback: true, allowPrivate: false };

describe("postWebhook", () => {
  it("POSTs the body signed, and reports the status", async () => {
    const { port, requests } = await startWebhookTarget(204);
    const attempt = await postWebhook({
      url: `http://localhost:${port}/hook`,
      body: '{"a":1}',
      secret,
      headers: {},
      policy: loopbackAllowed,
      timeoutMs: 5_000,
    });
    expect(attempt).toEqual({ statusCode: 204, delivered: true, error: undefined });
    expect(requests).toHaveLength(1);
    const signature = requests[0]?.headers["x-noa-signature"] as string | undefined;
    expect(verifyWebhook({ secret, body: requests[0]?.body ?? "", header: signature })).toBe(true);
  });

  it("reports a non-2xx answer as undelivered", async () => {
    const { port } = await startWebhookTarget(500);
    const attempt = await postWebhook({
      url: `http://127.0.0.1:${port}/hook`,
      body: "{}",
      secret,
      headers: {},
      policy: loopbackAllowed,
      timeoutMs: 5_000,
    });
    expect(attempt).toEqual({ statusCode: 500, delivered: false, error: "the target answered 500" });
  });

  it("refuses at connect time a host that resolves to a forbidden address, sending nothing", async () => {
    const { port, requests } = await startWebhookTarget(200);
    const strict = { ...loopbackAllowed, allowLoopback: false };
    for (const host of ["localhost", "127.0.0.1"]) {
      const attempt = await postWebhook({
        url: `http://${host}:${port}/hook`,
        body: "{}",
        secret,
        headers: {},
        policy: strict,
        timeoutMs: 5_000,
      });
      expect(attempt.delivered).toBe(false);
      expect(attempt.statusCode).toBe(0);
      expect(attempt.error).toMatch(/^refused: .*loopback address/);
    }
    expect(requests).toEqual([]);
  });

  it("gives up on a target that answers 200 but never finishes its body, as an undelivered attempt", async () => {
    const { port, hungUp } = await startWebhookTarget("drip");
    const attempt = await postWebhook({
      url: `http://127.0.0.1:${port}/hook`,
      body: "{}",
      secret,
      headers: {},
      policy: loopbackAllowed,
      timeoutMs: 300,
    });
    // Retried like any failed delivery (status 0: no complete answer), and the connection is closed.
    expect(attempt).toEqual({
      statusCode: 0,
      delivered: false,
      error: "timed out: the target answered 200 but did not finish within 300 ms",
    });
    await hungUp;
  });

  it("stops waiting for a target that never answers once the caller's signal aborts", async () => {
    const { port, arrived } = await startWebhookTarget("never");
    const controller = new AbortController();
    const posting = postWebhook({
      url: `http://127.0.0.1:${port}/hook`,
      body: "{}",
      secret,
      headers: {},
      policy: loopbackAllowed,
      timeoutMs: 60_000,
      signal: controller.signal,
    });
    await arrived;
    controller.abort();
    expect(await posting).toEqual({ statusCode: 0, delivered: false, error: "aborted" });
  });
});
