import { randomBytes } from "node:crypto";
import { createJobQueues } from "@noa/jobs";
import { createTestAccess } from "@noa/rpc-server/testing";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Dashboard, startDashboard } from "./start-dashboard.js";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `noa-test-${randomBytes(5).toString("hex")}`;
const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
const queues = createJobQueues({ connection, prefix });
let access: Awaited<ReturnType<typeof createTestAccess>>;
let dashboard: Dashboard;
let base: string;

beforeAll(async () => {
  access = await createTestAccess();
  dashboard = await startDashboard({
    queues,
    authenticator: access.access.authenticator,
    logger: pino({ level: "silent" }),
    isReady: () => true,
    port: 0,
    host: "127.0.0.1",
  });
  base = `http://127.0.0.1:${dashboard.address.port}/admin/queues`;
});
afterAll(async () => {
  await dashboard?.close();
  await access?.close();
  await queues.close();
  const keys = await connection.keys(`${prefix}:*`);
  if (keys.length > 0) await connection.del(...keys);
  connection.disconnect();
});

const basic = () => `Basic ${Buffer.from(`admin:${access.adminKey}`).toString("base64")}`;

describe("the queue dashboard in a browser that keeps its Basic credentials", () => {
  it("may not be framed by another page, and does not announce Express", async () => {
    const page = await fetch(base, { headers: { authorization: basic() } });
    expect(page.status).toBe(200);
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    expect(page.headers.get("content-security-policy")).toBe("frame-ancestors 'none'");
    expect(page.headers.get("x-powered-by")).toBeNull();
    const api = await fetch(`${base}/api/queues`, { headers: { authorization: basic() } });
    expect(api.status).toBe(200);
    expect(api.headers.get("x-powered-by")).toBeNull();
  });

  it("refuses a change sent by another site's form, and takes it from its own page", async () => {
    const add = (headers: Record<string, string>) =>
      fetch(`${base}/api/queues/noa-jobs/add`, {
        method: "POST",
        headers: { authorization: basic(), ...headers },
        body: JSON.stringify({ name: "job", data: { jobId: "forged" } }),
      });
    const forged = await add({ "content-type": "text/plain", origin: "https://evil.example" });
    expect(forged.status).toBe(403);
    expect(await forged.json()).toEqual({
      error: { message: "the queue dashboard takes changes only from its own pages" },
    });
    expect((await add({ "content-type": "text/plain", "sec-fetch-site": "same-site" })).status).toBe(403);
    expect(await queues.jobs.getJobCounts("waiting", "prioritized")).toEqual({ waiting: 0, prioritized: 0 });

    const own = await add({
      "content-type": "application/json",
      origin: `http://127.0.0.1:${dashboard.address.port}`,
      "sec-fetch-site": "same-origin",
    });
    expect(own.status).toBe(200);
    expect(await queues.jobs.getJobCounts("waiting")).toEqual({ waiting: 1 });
  });
});
