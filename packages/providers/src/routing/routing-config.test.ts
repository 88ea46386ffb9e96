import { describe, expect, it } from "vitest";
import { parseRoutingConfig } from "./routing-config.js";
import { defaultRetryPolicy } from "./with-retry.js";

describe("parseRoutingConfig", () => {
  it("fills defaults and lets routes override retry and timeouts", () => {
    const config = parseRoutingConfig({
      routes: {
        default: ["openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-latest"],
        fast: {
          targets: ["openai/gpt-4o-mini"],
          retry: { maxAttempts: 1 },
          timeouts: { firstTokenMs: 2000 },
        },
      },
      timeouts: { totalMs: 60_000 },
    });
    expect(config.routes.default).toEqual({
      targets: ["openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-latest"],
      retry: defaultRetryPolicy,
      timeouts: { firstTokenMs: 600_000, totalMs: 60_000 },
    });
    expect(config.routes.fast?.retry.maxAttempts).toBe(1);
    expect(config.routes.fast?.timeouts).toEqual({ totalMs: 60_000, firstTokenMs: 2000 });
    expect(config.circuitBreaker).toEqual({ failureThreshold: 5, cooldownMs: 60_000 });
  });

  it("accepts nothing at all: no routes, and an attempt waits at most 10 minutes for its first token", () => {
    const config = parseRoutingConfig(undefined);
    expect(config.routes).toEqual({});
    expect(config.timeouts).toEqual({ firstTokenMs: 600_000 });
  });

  it("takes 0 as no limit", () => {
    expect(parseRoutingConfig({ timeouts: { firstTokenMs: 0 } }).timeouts).toEqual({ firstTokenMs: 0 });
  });

  it("names every bad field", () => {
    expect(() =>
      parseRoutingConfig({ routes: { default: ["no-slash"] }, retry: { maxAttempts: 0 }, surprise: 1 }),
    ).toThrow(/routes\.default\.0.*provider.*retry\.maxAttempts|retry\.maxAttempts.*routes\.default/s);
  });
});
