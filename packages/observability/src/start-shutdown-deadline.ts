import type { Logger } from "pino";

/**
 * Ends the process with exit code 1 if shutting down takes longer than `deadlineMs`, saying why at error
 * level: closing what talks to Redis waits for Redis, and while it is unreachable that never ends. Call
 * the function it returns once shutdown has finished. The timer does not keep the process alive.
 */
export function startShutdownDeadline(
  logger: Pick<Logger, "error" | "flush">,
  deadlineMs: number,
  exit: (code: number) => void = (code) => process.exit(code),
): () => void {
  const deadline = setTimeout(() => {
    logger.error(
      { deadlineMs },
      "shutdown did not finish in time (Redis unreachable, or a span export still waiting): exiting now",
    );
    logger.flush();
    exit(1);
  }, deadlineMs);
  deadline.unref();
  return () => clearTimeout(deadline);
}
