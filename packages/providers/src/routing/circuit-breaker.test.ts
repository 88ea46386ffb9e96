import { describe, expect, it } from "vitest";
import { createCircuitBreaker } from "./circuit-breaker.js";

function breakerWithClock() {
  const clock = { now: 1_000 };
  const states: string[] = [];
  const breaker = createCircuitBreaker({
    failureThreshold: 3,
    cooldownMs: 60_000,
    now: () => clock.now,
    onStateChange: (state) => states.push(state),
  });
  return { breaker, clock, states };
}

describe("createCircuitBreaker", () => {
  it("opens after N consecutive failures and skips calls until the cooldown", () => {
    const { breaker, states } = breakerWithClock();
    for (let i = 0; i < 3; i++) {
      expect(breaker.tryAcquire()).toBe(true);
      breaker.recordFailure();
    }
    expect(states).toEqual(["open"]);
    expect(breaker.tryAcquire()).toBe(false);
    expect(breaker.snapshot()).toEqual({ state: "open", failures: 3, retryAt: 61_000 });
  });

  it("a success in between resets the count", () => {
    const { breaker } = breakerWithClock();
    breaker.recordFailure();
    breaker.recordFailure();
    breaker.recordSuccess();
    breaker.recordFailure();
    breaker.recordFailure();
    expect(breaker.snapshot().state).toBe("closed");
  });

  it("lets exactly one probe through after the cooldown and closes when it succeeds", () => {
    const { breaker, clock, states } = breakerWithClock();
    for (let i = 0; i < 3; i++) breaker.recordFailure();
    clock.now += 60_000;
    expect(breaker.snapshot().state).toBe("half-open");
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(false);
    breaker.recordSuccess();
    expect(states).toEqual(["open", "half-open", "closed"]);
    expect(breaker.tryAcquire()).toBe(true);
  });

  it("reopens for another cooldown when the probe fails", () => {
    const { breaker, clock } = breakerWithClock();
    for (let i = 0; i < 3; i++) breaker.recordFailure();
    clock.now += 60_000;
    expect(breaker.tryAcquire()).toBe(true);
    breaker.recordFailure();
    expect(breaker.snapshot()).toMatchObject({ state: "open", retryAt: clock.now + 60_000 });
    expect(breaker.tryAcquire()).toBe(false);
  });

  it("a released probe frees the slot for the next one", () => {
    const { breaker, clock } = breakerWithClock();
    for (let i = 0; i < 3; i++) breaker.recordFailure();
    clock.now += 60_000;
    expect(breaker.tryAcquire()).toBe(true);
    breaker.release();
    expect(breaker.tryAcquire()).toBe(true);
  });
});
