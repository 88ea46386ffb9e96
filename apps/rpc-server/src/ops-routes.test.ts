import { once } from "node:events";
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
  const logger = pino({ level: "silent" });
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
    expect(detail).toMatchObject({ status: "ready", models: [{ id: "fake/echo", loaded: true }] });
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
