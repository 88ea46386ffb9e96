/** What went wrong, in the terms every boundary maps once (Connect code, HTTP status, tRPC code). */
export type AccessErrorCode =
  | "invalid-argument"
  | "unauthenticated"
  | "permission-denied"
  | "not-found"
  | "resource-exhausted"
  /** A dependency of authentication (e.g. the identity provider's key set) could not be reached. */
  | "unavailable";

/**
 * A caller-facing failure of the access layer; the message is written for the caller and safe to
 * show (it never contains a key or token), internal detail goes in `cause` for the logs.
 */
export class AccessError extends Error {
  readonly code: AccessErrorCode;
  /** For `resource-exhausted`: how long the caller should wait before trying again. */
  readonly retryAfterMs: number | undefined;

  constructor(
    code: AccessErrorCode,
    message: string,
    options: { cause?: unknown; retryAfterMs?: number } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "AccessError";
    this.code = code;
    this.retryAfterMs = options.retryAfterMs;
  }
}
