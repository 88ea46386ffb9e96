import { afterEach, describe, expect, it, vi } from "vitest";
import { startShutdownDeadline } from "./start-shutdown-deadline.js";

afterEach(() => {
  vi.useRealTimers();
});

describe("startShutdownDeadline", () => {
  it("exits 1, saying why, when shutdown has not finished by the deadline", () => {
    vi.useFakeTimers();
    const logger = { error: vi.fn(), flush: vi.fn() };
    const exit = vi.fn();
    startShutdownDeadline(logger, 6_000, exit);
    vi.advanceTimersByTime(5_999);
    expect(exit).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(logger.error).toHaveBeenCalledWith(
      { deadlineMs: 6_000 },
      "shutdown did not finish in time (Redis unreachable, or a span export still waiting): exiting now",
    );
    expect(logger.flush).toHaveBeenCalled();
    expect(exit).toHaveBeenCalledWith(1);
  });

  it("does nothing once shutdown has finished", () => {
    vi.useFakeTimers();
    const logger = { error: vi.fn(), flush: vi.fn() };
    const exit = vi.fn();
    const finished = startShutdownDeadline(logger, 6_000, exit);
    finished();
    vi.advanceTimersByTime(60_000);
    expect(exit).not.toHaveBeenCalled();
    expect(logger.error).not.toHaveBeenCalled();
  });
});
