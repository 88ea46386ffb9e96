/** Statuses worth trying again: timeout, conflict, rate limit and server errors (as the vendors' own SDKs retry). */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}
