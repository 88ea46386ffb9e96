import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createLockLeases } from "./create-lock-leases.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** An attempt that runs until its signal aborts, as a long generation does; `stopped` says why it ended. */
function longAttempt() {
  let stopped: unknown;
  const run = (signal: AbortSignal) =>
    new Promise<string>((resolve) =>
      signal.addEventListener("abort", () => {
        stopped = signal.reason;
        resolve("stopped");
      }),
    );
  return { run, stopped: () => stopped };
}

describe("createLockLeases", () => {
  it("stops an attempt whose lock was not renewed for the lock's duration (Redis unreachable), and not before", async () => {
    const leases = createLockLeases({ lockDurationMs: 1_000 });
    const attempt = longAttempt();
    const ended = leases.hold({ jobId: "job-1", lockedAt: Date.now(), signal: undefined }, attempt.run);

    await vi.advanceTimersByTimeAsync(999);
    expect(attempt.stopped()).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(await ended).toBe("stopped");
    expect(attempt.stopped()).toBe("lock-lost");
  });

  it("keeps an attempt whose lock BullMQ renews running, each renewal lasting the lock's duration", async () => {
    const leases = createLockLeases({ lockDurationMs: 1_000 });
    const attempt = longAttempt();
    void leases.hold({ jobId: "job-1", lockedAt: Date.now(), signal: undefined }, attempt.run);

    for (let renewal = 0; renewal < 5; renewal++) {
      await vi.advanceTimersByTimeAsync(500);
      leases.renewed(["job-1", "another-job"]);
    }
    await vi.advanceTimersByTimeAsync(999);
    expect(attempt.stopped()).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(attempt.stopped()).toBe("lock-lost");
  });

  it("counts the lease from when BullMQ took the lock", async () => {
    const leases = createLockLeases({ lockDurationMs: 1_000 });
    const attempt = longAttempt();
    void leases.hold({ jobId: "job-1", lockedAt: Date.now() - 600, signal: undefined }, attempt.run);

    await vi.advanceTimersByTimeAsync(400);
    expect(attempt.stopped()).toBe("lock-lost");
  });

  it("gives a job taken with a stale timestamp (its command queued through an outage) until BullMQ's first renewal answers", async () => {
    const leases = createLockLeases({ lockDurationMs: 1_200 });
    const renewedInTime = longAttempt();
    const neverRenewed = longAttempt();
    const lockedAt = Date.now() - 5_000;
    void leases.hold({ jobId: "job-1", lockedAt, signal: undefined }, renewedInTime.run);
    void leases.hold({ jobId: "job-2", lockedAt, signal: undefined }, neverRenewed.run);

    // BullMQ's renewal tick comes within a quarter of the lock (300 ms) and renews job-1.
    await vi.advanceTimersByTimeAsync(300);
    expect([renewedInTime.stopped(), neverRenewed.stopped()]).toEqual([undefined, undefined]);
    leases.renewed(["job-1"]);
    await vi.advanceTimersByTimeAsync(100);
    expect([renewedInTime.stopped(), neverRenewed.stopped()]).toEqual([undefined, "lock-lost"]);
    await vi.advanceTimersByTimeAsync(1_099);
    expect(renewedInTime.stopped()).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(renewedInTime.stopped()).toBe("lock-lost");
  });

  it("stops the attempts of the jobs whose lock BullMQ found lost, and only those", async () => {
    const leases = createLockLeases({ lockDurationMs: 60_000 });
    const lost = longAttempt();
    const kept = longAttempt();
    void leases.hold({ jobId: "job-1", lockedAt: Date.now(), signal: undefined }, lost.run);
    void leases.hold({ jobId: "job-2", lockedAt: Date.now(), signal: undefined }, kept.run);

    expect(leases.lost(["job-1", "not-running-here"])).toEqual(["job-1"]);
    await vi.advanceTimersByTimeAsync(0);
    expect([lost.stopped(), kept.stopped()]).toEqual(["lock-lost", undefined]);
  });

  it("knows a job whose attempt already stopped for its lost lock when a renewal sent before then fails late", async () => {
    const leases = createLockLeases({ lockDurationMs: 1_000 });
    const attempt = longAttempt();
    const ended = leases.hold({ jobId: "job-1", lockedAt: Date.now(), signal: undefined }, attempt.run);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await ended).toBe("stopped");

    expect(leases.lost(["job-1"])).toEqual(["job-1"]);
    expect(leases.lost(["job-1"])).toEqual([]);
  });

  it("stops an attempt still running when the same job starts again in this process (its lock is the new one's)", async () => {
    const leases = createLockLeases({ lockDurationMs: 60_000 });
    const first = longAttempt();
    const second = longAttempt();
    void leases.hold({ jobId: "job-1", lockedAt: Date.now(), signal: undefined }, first.run);
    void leases.hold({ jobId: "job-1", lockedAt: Date.now(), signal: undefined }, second.run);

    await vi.advanceTimersByTimeAsync(0);
    expect([first.stopped(), second.stopped()]).toEqual(["lock-lost", undefined]);
  });

  it("returns a stopped attempt only after the later attempt of its job here (BullMQ tracks a job's lock by id: the first return untracks both)", async () => {
    const leases = createLockLeases({ lockDurationMs: 60_000 });
    const returned: string[] = [];
    // The first attempt does not stop at once when its signal aborts (a job type without a signal, a
    // provider slow to hear it): it ends 1 s later.
    const first = leases
      .hold({ jobId: "job-1", lockedAt: Date.now(), signal: undefined }, async () => {
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      })
      .then(() => returned.push("first"));
    const second = longAttempt();
    const secondEnds = new AbortController();
    const ended = leases
      .hold({ jobId: "job-1", lockedAt: Date.now(), signal: secondEnds.signal }, second.run)
      .then(() => returned.push("second"));

    await vi.advanceTimersByTimeAsync(5_000);
    expect(returned).toEqual([]);
    secondEnds.abort("shutdown");
    await Promise.all([first, ended]);
    expect(returned).toEqual(["second", "first"]);
  });

  it("passes BullMQ's abort (CancelJob, shutdown) on with its reason, and leaves no timer once the attempt ended", async () => {
    const leases = createLockLeases({ lockDurationMs: 60_000 });
    const attempt = longAttempt();
    const bullmq = new AbortController();
    const ended = leases.hold({ jobId: "job-1", lockedAt: Date.now(), signal: bullmq.signal }, attempt.run);

    bullmq.abort("cancelled");
    expect(await ended).toBe("stopped");
    expect(attempt.stopped()).toBe("cancelled");
    expect(vi.getTimerCount()).toBe(0);
  });

  it("does not keep the process alive: a process whose workers closed with Redis unreachable ends, though an attempt there still waits for Redis", async () => {
    vi.useRealTimers();
    const timers = () => process.getActiveResourcesInfo().filter((resource) => resource === "Timeout").length;
    const before = timers();
    const leases = createLockLeases({ lockDurationMs: 30_000 });
    const stop = new AbortController();
    const ended = leases.hold(
      { jobId: "job-1", lockedAt: Date.now(), signal: stop.signal },
      longAttempt().run,
    );

    expect(timers()).toBe(before);
    stop.abort("test over");
    expect(await ended).toBe("stopped");
  });
});
