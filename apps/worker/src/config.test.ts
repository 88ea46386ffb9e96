import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseWorkerConfig } from "./config.js";

describe("parseWorkerConfig", () => {
  it("has the seed design's defaults: concurrency 5, 10 jobs/s, the dashboard on 8081", () => {
    const config = parseWorkerConfig({ INIT_CWD: "/srv/noa" });
    expect(config).toMatchObject({
      concurrency: 5,
      ratePerSecond: 10,
      lockDurationMs: 30_000,
      stalledIntervalMs: 30_000,
      shutdownGraceMs: 10_000,
      dashboardPort: 8081,
      host: "127.0.0.1",
      webhookSecret: undefined,
      databaseUrl: undefined,
      redisUrl: "redis://127.0.0.1:6379",
      dataDir: path.resolve("/srv/noa", ".noa"),
      jobs: { prefix: "noa", maxAttempts: 3 },
    });
  });

  it("reads the worker's variables and turns the port off with `off`", () => {
    const config = parseWorkerConfig({
      NOA_WORKER_CONCURRENCY: "20",
      NOA_WORKER_RATE_LIMIT: "0",
      NOA_WORKER_PORT: "off",
      NOA_WEBHOOK_SECRET: "s".repeat(32),
      DATABASE_URL: "postgresql://db/noa",
    });
    expect(config).toMatchObject({
      concurrency: 20,
      ratePerSecond: 0,
      dashboardPort: undefined,
      webhookSecret: "s".repeat(32),
      databaseUrl: "postgresql://db/noa",
    });
  });

  it("refuses a short webhook secret and bad numbers, naming the variable", () => {
    expect(() => parseWorkerConfig({ NOA_WEBHOOK_SECRET: "" })).toThrow(
      "NOA_WEBHOOK_SECRET is set but empty: give it 32+ characters (openssl rand -hex 32), shared by every worker",
    );
    expect(() => parseWorkerConfig({ NOA_WEBHOOK_SECRET: "short" })).toThrow(
      "NOA_WEBHOOK_SECRET must hold at least 32 characters",
    );
    expect(() => parseWorkerConfig({ NOA_WORKER_CONCURRENCY: "0" })).toThrow(
      'NOA_WORKER_CONCURRENCY must be an integer from 1 to 10000 (got "0")',
    );
  });
});
