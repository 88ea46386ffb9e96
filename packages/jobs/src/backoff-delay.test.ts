import { describe, expect, it } from "vitest";
import { backoffDelay, defaultJobBackoff } from "./backoff-delay.js";

describe("backoffDelay", () => {
  it("doubles from the base per attempt, without jitter when random() is 0", () => {
    expect([1, 2, 3, 4].map((attempt) => backoffDelay(attempt, defaultJobBackoff, () => 0))).toEqual([
      1_000, 2_000, 4_000, 8_000,
    ]);
  });

  it("adds at most 30 % jitter", () => {
    expect(backoffDelay(1, defaultJobBackoff, () => 0.999_999)).toBe(1_300);
    expect(backoffDelay(3, defaultJobBackoff, () => 0.5)).toBe(4_600);
  });

  it("never waits longer than the cap, jitter included", () => {
    expect(backoffDelay(30, defaultJobBackoff, () => 1)).toBe(300_000);
    expect(backoffDelay(9, defaultJobBackoff, () => 1)).toBe(300_000);
  });
});
