/** Node's socket error codes for a server that cannot be reached or a connection that dropped. */
const connectionErrorCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * True when `error` says a Redis connection could not be made or was lost (told by its system error
 * `code`): a reconnection fixes it, so it is an outage to report once, not a fault to log each time.
 * Anything Redis or BullMQ answered (a script error, a lost lock, WRONGPASS) is not.
 */
export function isConnectionError(error: unknown): error is Error & { code: string } {
  if (!(error instanceof Error)) return false;
  const { code } = error as { code?: unknown };
  return typeof code === "string" && connectionErrorCodes.has(code);
}
