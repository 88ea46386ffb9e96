/**
 * A REST request that cannot be served as sent, refused before it reaches the completion service: a body
 * that is too large, not JSON or of the wrong shape, an unknown route or method. The message is written
 * for the client and says what to send instead; `param` names the offending field, as OpenAI's body does.
 */
export class RestRequestError extends Error {
  /** HTTP status: 400, 404, 405, 408, 413 or 415. */
  readonly status: number;
  readonly param: string | null;
  /** OpenAI's machine-readable `code`, e.g. `invalid_value`. */
  readonly code: string;
  /** Headers the refusal needs, e.g. `allow` on a 405. */
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    message: string,
    options: { param?: string | null; code: string; headers?: Record<string, string> },
  ) {
    super(message);
    this.name = "RestRequestError";
    this.status = status;
    this.param = options.param ?? null;
    this.code = options.code;
    this.headers = options.headers ?? {};
  }
}

/** A 400 about one field of the body. */
export function invalidParam(message: string, param: string): RestRequestError {
  return new RestRequestError(400, message, { param, code: "invalid_value" });
}
