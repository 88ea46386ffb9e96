/** CLOSED lets calls through; OPEN skips the target; HALF_OPEN lets one probe call through. */
export type CircuitState = "closed" | "open" | "half-open";

/** What operators and ModelService see of a breaker. */
export interface CircuitSnapshot {
  state: CircuitState;
  /** Consecutive target failures counted so far. */
  failures: number;
  /** While open: when the next call is let through as a probe (epoch ms). */
  retryAt: number | undefined;
}

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit (seed design: 5). */
  failureThreshold: number;
  /** How long it stays open before a probe is let through (seed design: 60 s). */
  cooldownMs: number;
  now?: () => number;
  /** Told of every change; `remote` when another replica's breaker opened this one (openFor). */
  onStateChange?: (state: CircuitState, cause: "local" | "remote") => void;
}

/** One target's breaker. Every successful `tryAcquire` must be followed by exactly one of success, failure or release. */
export interface CircuitBreaker {
  /** Whether a call may go through now; in HALF_OPEN only one probe at a time. */
  tryAcquire(): boolean;
  recordSuccess(): void;
  /** The target failed (only failures of the target count, never the caller's 4xx). */
  recordFailure(): void;
  /** The call ended without telling anything about the target's health (cancelled, caller error). */
  release(): void;
  /**
   * Opens the breaker until `retryAt` (epoch ms) because the same target's breaker opened on another
   * replica; a no-op when it is already open until then or later. Probing then resumes here as usual.
   */
  openFor(retryAt: number): void;
  snapshot(): CircuitSnapshot;
}

/** Creates a breaker: CLOSED → OPEN after N consecutive failures → HALF_OPEN after the cooldown → CLOSED on a successful probe. */
export function createCircuitBreaker(options: CircuitBreakerOptions): CircuitBreaker {
  const { failureThreshold, cooldownMs, now = Date.now, onStateChange } = options;
  let state: CircuitState = "closed";
  let failures = 0;
  let openedAt = 0;
  let probeInFlight = false;

  const moveTo = (next: CircuitState, cause: "local" | "remote" = "local") => {
    if (next === state) return;
    state = next;
    onStateChange?.(next, cause);
  };
  const open = () => {
    openedAt = now();
    probeInFlight = false;
    moveTo("open");
  };

  return {
    tryAcquire() {
      if (state === "open" && now() >= openedAt + cooldownMs) moveTo("half-open");
      if (state === "closed") return true;
      if (state === "half-open" && !probeInFlight) {
        probeInFlight = true;
        return true;
      }
      return false;
    },
    recordSuccess() {
      failures = 0;
      probeInFlight = false;
      moveTo("closed");
    },
    recordFailure() {
      failures++;
      if (state === "half-open" || failures >= failureThreshold) open();
    },
    release() {
      probeInFlight = false;
    },
    openFor(retryAt) {
      if (state === "open" && openedAt + cooldownMs >= retryAt) return;
      if (retryAt <= now()) return;
      openedAt = retryAt - cooldownMs;
      probeInFlight = false;
      moveTo("open", "remote");
    },
    snapshot() {
      const reopening = state === "open" && now() >= openedAt + cooldownMs;
      return {
        state: reopening ? "half-open" : state,
        failures,
        retryAt: state === "open" ? openedAt + cooldownMs : undefined,
      };
    },
  };
}
