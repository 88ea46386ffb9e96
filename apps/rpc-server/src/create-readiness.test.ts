import { describe, expect, it } from "vitest";
import { createReadiness } from "./create-readiness.js";

describe("createReadiness", () => {
  it("reports every dependency and warns about outages without declaring the replica unready", async () => {
    const healthy = createReadiness({
      pingDatabase: async () => {},
      rateLimiter: { mode: () => "shared" },
      ledger: { stats: () => ({ buffered: 0, written: 10, dropped: 0, failedWrites: 0 }) },
    });
    expect(await healthy()).toEqual({ database: "ok", rateLimits: "shared", usageBuffered: 0, warnings: [] });

    const degraded = createReadiness({
      pingDatabase: async () => {
        throw new Error("connection refused");
      },
      rateLimiter: { mode: () => "local" },
      ledger: { stats: () => ({ buffered: 42, written: 10, dropped: 0, failedWrites: 3 }) },
    });
    const report = await degraded();
    expect(report).toMatchObject({ database: "unreachable", rateLimits: "local", usageBuffered: 42 });
    expect(report.warnings).toEqual([
      "database unreachable: usage records are buffered in memory",
      "Redis unreachable: rate limits are enforced per replica",
    ]);
  });
});
