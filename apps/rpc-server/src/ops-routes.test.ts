import { once } from "node:events";
import http2 from "node:http2";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createReadiness } from "@noa/observability";
import { Health, HealthCheckResponse_ServingStatus as Serving } from "@noa/proto/grpc/health/v1";
import { createModelRegistry, createRouter, parseRoutingConfig } from "@noa/providers";
import { createFakeLanguageModel } from "@noa/providers/testing";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createTestAccess } from "./__fixtures__/create-test-access.js";
import { type PrivateRedis, startPrivateRedis } from "./__fixtures__/start-private-redis.js";
import { createMetrics } from "./create-metrics.js";
import { build, type RpcServer } from "./server.js";

// Issue 9's health surface: readiness follows a real Redis going away and coming back (no restart),
// gRPC health per service agrees with it, and the detailed, status and metrics routes need credentials.
let redisServer: PrivateRedis;
let redis: Redis;
let server: RpcServer;
let baseUrl: string;
let access: Awaited<ReturnType<typeof createTestAccess>>;
const metricsToken = "metrics-token-for-tests";
const logs: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  redisServer = await startPrivateRedis();
  redis = new Redis(redisServer.port, "127.0.0.1", {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: () => 50,
  });
  redis.on("error", () => {});
  await once(redis, "ready");
  access = await createTestAccess();
  const { model: fake } = createFakeLanguageModel("fake", "echo", []);
  const registry = createRouter({
    registry: createModelRegistry({
      providers: [
        {
          id: "fake",
          listModels: async () => [
            { id: "fake/echo", provider: "fake", capabilities: ["chat"], contextLength: 0, loaded: true },
          ],
          languageModel: () => fake,
          close: async () => {},
        },
      ],
    }),
    config: parseRoutingConfig({}),
  });
  const logger = pino({ level: "debug" }, { write: (line: string) => logs.push(JSON.parse(line)) });
  server = build({
    registry,
    logger,
    metrics: createMetrics({ registry }),
    metricsToken,
    status: { service: "rpc-server", version: "test" },
    readiness: createReadiness({
      checks: {
        database: async () => {},
        redis: async () => {
          await redis.ping();
        },
      },
      timeoutMs: 500,
    }),
    readinessIntervalMs: 100,
    access: access.access,
  });
  const { port } = await server.listen(0, "127.0.0.1");
  baseUrl = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await server?.close({ graceMs: 0 });
  redis?.disconnect();
  await access?.close();
  await redisServer?.close();
});

describe("readiness", () => {
  it("goes 503 naming Redis when it stops, and back to 200 when it returns, without a restart", async () => {
    const grpcHealth = createClient(Health, createGrpcTransport({ baseUrl }));
    const ready = await fetch(`${baseUrl}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "ready", dependencies: { redis: { status: "ok" } } });

    await redisServer.stop();
    await vi.waitFor(async () => {
      const response = await fetch(`${baseUrl}/health/ready`);
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({
        status: "not ready",
        dependencies: { redis: { status: "down" }, database: { status: "ok" } },
      });
    });
    // The periodic check tells gRPC health too: the server as a whole is not serving, inference (which
    // works with per-replica limits) is.
    await vi.waitFor(async () => {
      expect((await grpcHealth.check({ service: "" })).status).toBe(Serving.NOT_SERVING);
    });
    expect((await grpcHealth.check({ service: "noa.inference.v1.InferenceService" })).status).toBe(
      Serving.SERVING,
    );
    // Liveness does not depend on Redis.
    expect((await fetch(`${baseUrl}/health`)).status).toBe(200);

    await redisServer.start();
    await vi.waitFor(async () => {
      expect((await fetch(`${baseUrl}/ready`)).status).toBe(200);
    });
    await vi.waitFor(async () => {
      expect((await grpcHealth.check({ service: "" })).status).toBe(Serving.SERVING);
    });
  });
});

describe("operations routes", () => {
  it("shows /health/detailed to admin keys only", async () => {
    expect((await fetch(`${baseUrl}/health/detailed`)).status).toBe(401);
    const { key } = await access.apiKeys.create({ name: "user", tenant: "acme", scopes: ["inference"] });
    const user = await fetch(`${baseUrl}/health/detailed`, { headers: { authorization: `Bearer ${key}` } });
    expect(user.status).toBe(403);
    const admin = await fetch(`${baseUrl}/health/detailed`, {
      headers: { authorization: `Bearer ${access.adminKey}` },
    });
    expect(admin.status).toBe(200);
    const detail = (await admin.json()) as {
      uptimeS: number;
      memory: { rssBytes: number };
      dependencies: { redis: { status: string } };
    };
    // Not called yet: its breaker is not made, and a breaker starts closed.
    expect(detail).toMatchObject({
      status: "ready",
      models: [{ id: "fake/echo", loaded: true, circuit: "closed" }],
    });
    expect(detail.uptimeS).toBeGreaterThanOrEqual(0);
    expect(detail.memory.rssBytes).toBeGreaterThan(0);
    expect(detail.dependencies.redis.status).toBe("ok");
  });

  it("serves /status to any valid key, and /metrics only with the metrics token", async () => {
    expect((await fetch(`${baseUrl}/status`)).status).toBe(401);
    const status = await fetch(`${baseUrl}/status`, {
      headers: { authorization: `Bearer ${access.adminKey}` },
    });
    expect(await status.json()).toMatchObject({
      service: "rpc-server",
      version: "test",
      node: process.version,
    });

    const refused = await fetch(`${baseUrl}/metrics`);
    expect(refused.status).toBe(401);
    expect(await refused.text()).toContain("NOA_METRICS_TOKEN");
    const scraped = await fetch(`${baseUrl}/metrics`, {
      headers: { authorization: `Bearer ${metricsToken}` },
    });
    expect(scraped.status).toBe(200);
    const text = await scraped.text();
    expect(text).toContain("http_active_connections");
    expect(text).toMatch(/^noa_ready 1$/m);
    expect(text).toMatch(/^noa_dependency_up\{dependency="redis"\} 1$/m);
  });
});

describe("methods on the operations routes", () => {
  const get = { authorization: `Bearer ${metricsToken}` };
  const routes = ["/health", "/health/ready", "/ready", "/status", "/health/detailed", "/metrics"];
  const headersOf = (path: string) =>
    path === "/metrics" ? get : { authorization: `Bearer ${access.adminKey}` };

  it.each(routes)("HEAD %s answers as GET does, without the body", async (path) => {
    const full = await fetch(`${baseUrl}${path}`, { headers: headersOf(path) });
    const body = await full.arrayBuffer();
    const head = await fetch(`${baseUrl}${path}`, { method: "HEAD", headers: headersOf(path) });
    expect(head.status).toBe(full.status);
    expect(full.status).toBe(200);
    expect(head.headers.get("content-type")).toBe(full.headers.get("content-type"));
    expect(Number(head.headers.get("content-length"))).toBeGreaterThan(0);
    if (path !== "/metrics" && path !== "/health/detailed" && path !== "/health/ready" && path !== "/ready") {
      // The same length as GET's body (readiness, details and metrics change between two calls).
      expect(Number(head.headers.get("content-length"))).toBe(body.byteLength);
    }
    expect((await head.arrayBuffer()).byteLength).toBe(0);
  });

  it("HEAD answers without a body over HTTP/2 too, and refusals keep their status", async () => {
    const session = http2.connect(baseUrl);
    try {
      const request = (path: string) =>
        new Promise<{ status: number; length: string | undefined; body: number }>((resolve, reject) => {
          const stream = session.request({ ":method": "HEAD", ":path": path });
          let body = 0;
          let status = 0;
          let length: string | undefined;
          stream.on("response", (headers) => {
            status = Number(headers[":status"]);
            length = headers["content-length"] as string | undefined;
          });
          stream.on("data", (chunk: Buffer) => (body += chunk.length));
          stream.on("end", () => resolve({ status, length, body }));
          stream.on("error", reject);
          stream.end();
        });
      const health = await request("/health");
      expect(health).toMatchObject({ status: 200, body: 0 });
      expect(Number(health.length)).toBeGreaterThan(0);
      expect(await request("/metrics")).toMatchObject({ status: 401, body: 0 });
      expect(await request("/status")).toMatchObject({ status: 401, body: 0 });
    } finally {
      session.close();
    }
  });

  it("answers another method with 405 and Allow: GET, HEAD", async () => {
    for (const method of ["POST", "PUT", "DELETE"]) {
      const response = await fetch(`${baseUrl}/health`, {
        method,
        headers: { "x-correlation-id": `wrong-method-${method}` },
      });
      expect(response.status).toBe(405);
      expect(response.headers.get("allow")).toBe("GET, HEAD");
      expect(await response.json()).toEqual({
        error: {
          message: `/health accepts GET, HEAD, not ${method} (correlation id: wrong-method-${method})`,
          type: "invalid_request_error",
          param: null,
          code: "method_not_allowed",
        },
      });
    }
    const metrics = await fetch(`${baseUrl}/metrics`, { method: "POST", headers: get });
    expect(metrics.status).toBe(405);
    expect(metrics.headers.get("allow")).toBe("GET, HEAD");
  });
});

describe("logs and metrics of the operations routes and unknown paths", () => {
  const linesOf = (correlationId: string) => logs.filter((line) => line.correlationId === correlationId);
  const call = (path: string, correlationId: string, init: RequestInit = {}) =>
    fetch(`${baseUrl}${path}`, {
      ...init,
      headers: { "x-correlation-id": correlationId, ...(init.headers as Record<string, string>) },
    });

  it("writes one line per request: passing probes at debug, everything else at info", async () => {
    await call("/health", "probe-health");
    await call("/ready", "probe-ready");
    await call("/metrics", "probe-metrics", { headers: { authorization: `Bearer ${metricsToken}` } });
    await call("/metrics", "refused-metrics");
    await call("/status", "status-ok", { headers: { authorization: `Bearer ${access.adminKey}` } });
    await call("/health/detailed", "detailed-401");
    await call("/health", "wrong-method", { method: "POST" });
    await call("/random/foo?token=secret", "unknown-path");

    const line = (correlationId: string) => {
      const lines = linesOf(correlationId);
      expect(lines).toHaveLength(1);
      return lines[0];
    };
    const shape = (level: number, method: string, route: string, status: number) =>
      expect.objectContaining({ level, msg: "http", method, route, status, ms: expect.any(Number) });
    expect(line("probe-health")).toEqual(shape(20, "GET", "/health", 200));
    expect(line("probe-ready")).toEqual(shape(20, "GET", "/ready", 200));
    expect(line("probe-metrics")).toEqual(shape(20, "GET", "/metrics", 200));
    expect(line("refused-metrics")).toEqual(shape(30, "GET", "/metrics", 401));
    expect(line("status-ok")).toEqual(shape(30, "GET", "/status", 200));
    expect(line("detailed-401")).toEqual(shape(30, "GET", "/health/detailed", 401));
    expect(line("wrong-method")).toEqual(shape(30, "POST", "/health", 405));
    expect(line("unknown-path")).toEqual(shape(30, "GET", "unknown", 404));
  });

  it("logs an unknown gRPC procedure at info as UNIMPLEMENTED", async () => {
    await call("/nope.v1.Nothing/Call", "unknown-procedure", {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto" },
      body: new Uint8Array(5),
    });
    expect(linesOf("unknown-procedure")).toEqual([
      expect.objectContaining({
        level: 30,
        msg: "http",
        method: "POST",
        route: "unknown",
        status: 404,
        protocol: "grpc-web",
        code: "unimplemented",
        procedure: "nope.v1.Nothing/Call",
      }),
    ]);
  });

  it("counts unknown paths in http_requests_total as route unknown, never by raw path, and not the operations routes themselves", async () => {
    const scrape = async () =>
      (await fetch(`${baseUrl}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })).text();
    const count = (text: string, labels: string) =>
      Number(text.match(new RegExp(`^http_requests_total\\{${labels}\\} (\\d+)$`, "m"))?.[1] ?? "0");
    const before = await scrape();
    await fetch(`${baseUrl}/health`);
    await fetch(`${baseUrl}/health`, { method: "HEAD" });
    await fetch(`${baseUrl}/health/detailed`);
    await fetch(`${baseUrl}/random/foo`);
    await fetch(`${baseUrl}/random/bar`);
    const after = await scrape();
    const grew = (labels: string) => count(after, labels) - count(before, labels);
    expect(grew('method="GET",route="unknown",status="404"')).toBe(2);
    expect(after).toMatch(
      /^http_request_duration_seconds_count\{method="GET",route="unknown",status="404"\} \d+$/m,
    );
    expect(after).not.toContain("/random/");
    // Probes and scrapes are not API traffic: a readiness 503 must not count as a failed request.
    expect(after).not.toMatch(/^http_requests_total\{[^}]*route="\/(health|metrics|ready|status)/m);
  });
});
