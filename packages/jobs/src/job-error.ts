/** What went wrong with a job call, in the terms each boundary maps once (Connect code, HTTP status). */
export type JobErrorCode =
  | "invalid-argument"
  | "not-found"
  | "failed-precondition"
  /** Jobs cannot run now (Redis unreachable). */
  | "unavailable";

/**
 * A caller-facing failure of the job service; the message is written for the caller and safe to show.
 * `field` names the request field a refusal is about (for google.rpc.BadRequest).
 */
export class JobError extends Error {
  readonly code: JobErrorCode;
  readonly field: string | undefined;

  constructor(code: JobErrorCode, message: string, options: { field?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "JobError";
    this.code = code;
    this.field = options.field;
  }
}
