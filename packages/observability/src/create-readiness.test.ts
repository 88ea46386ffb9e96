import { describe, expect, it } from "vitest";
import { createReadiness, DependencyDown } from "./create-readiness.js";

describe("createReadiness", () => {
  it("is ready when every check passes, and reports each with its latency", async () => {
    const readiness = createReadiness({
      checks: { database: async () => {}, redis: async () => {} },
      usageBuffered: () => 3,
    });
    const report = await readiness();
    expect(report.ready).toBe(true);
    expect(report.usageBuffered).toBe(3);
    expect(report.dependencies.database).toMatchObject({ status: "ok" });
    expect(report.dependencies.redis?.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it("names the dependency that is down and why, without the driver's message", async () => {
    const readiness = createReadiness({
      checks: {
        database: async () => {
          throw Object.assign(new Error("connect ECONNREFUSED postgres://admin:pw@db:5432"), {
            code: "ECONNREFUSED",
          });
        },
        redis: () => new Promise(() => {}),
        models: async () => {
          throw new DependencyDown("every model's circuit breaker is open");
        },
      },
      timeoutMs: 20,
    });
    const report = await readiness();
    expect(report.ready).toBe(false);
    expect(report.dependencies).toMatchObject({
      database: { status: "down", reason: "unreachable (ECONNREFUSED)" },
      redis: { status: "down", reason: "no answer within 20 ms" },
      models: { status: "down", reason: "every model's circuit breaker is open" },
    });
    expect(JSON.stringify(report)).not.toContain("pw@db");
  });
});
