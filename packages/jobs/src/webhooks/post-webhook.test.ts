import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { postWebhook } from "./post-webhook.js";
import type { CallbackPolicy } from "./ssrf-guard.js";
import { verifyWebhook } from "./webhook-signature.js";

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
 * A target that reads the request, answers 200 headers at once, then sends a byte every 50 ms and never
 * ends (a slow-loris receiver); `closed` resolves once the caller has hung up.
 */
async function drippingReceiver() {
  let hungUp!: () => void;
  const closed = new Promise<void>((resolve) => {
    hungUp = resolve;
  });
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { "content-type": "text/plain" });
    const drip = setInterval(() => res.write("."), 50);
    res.on("close", () => {
      clearInterval(drip);
      hungUp();
    });
  });
  servers.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { port: (server.address() as AddressInfo).port, closed };
}

/** A target that reads the request and never answers; `arrived` resolves with the first request. */
async function silentReceiver() {
  let arrive!: () => void;
  const arrived = new Promise<void>((resolve) => {
    arrive = resolve;
  });
  const server = createServer((req) => {
    req.resume();
    arrive();
  });
  servers.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { port: (server.address() as AddressInfo).port, arrived };
}

async function receiver(status: number) {
  const bodies: Array<{ body: string; signature: string | undefined }> = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => {
      body += chunk.toString("utf8");
    });
    req.on("end", () => {
      bodies.push({ body, signature: req.headers["x-noa-signature"] as string | undefined });
      res.writeHead(status).end();
    });
  });
  servers.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { port: (server.address() as AddressInfo).port, bodies };
}

const loopbackAllowed: CallbackPolicy = { allowHttp: true, allowLoopback: true, allowPrivate: false };

describe("postWebhook", () => {
  it("POSTs the body signed, and reports the status", async () => {
    const { port, bodies } = await receiver(204);
    const attempt = await postWebhook({
      url: `http://localhost:${port}/hook`,
      body: '{"a":1}',
      secret,
      headers: {},
      policy: loopbackAllowed,
      timeoutMs: 5_000,
    });
    expect(attempt).toEqual({ statusCode: 204, delivered: true, error: undefined });
    expect(bodies).toHaveLength(1);
    expect(verifyWebhook({ secret, body: bodies[0]?.body ?? "", header: bodies[0]?.signature })).toBe(true);
  });

  it("reports a non-2xx answer as undelivered", async () => {
    const { port } = await receiver(500);
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
    const { port, bodies } = await receiver(200);
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
    expect(bodies).toEqual([]);
  });

  it("gives up on a target that answers 200 but never finishes its body, as an undelivered attempt", async () => {
    const { port, closed } = await drippingReceiver();
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
    await closed;
  });

  it("stops waiting for a target that never answers once the caller's signal aborts", async () => {
    const { port, arrived } = await silentReceiver();
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
