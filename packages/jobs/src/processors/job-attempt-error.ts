import { InvalidRequestError, NoSuchModelError, NoTargetAvailableError, ProviderError } from "@noa/providers";
import type { JobFailure } from "../job-record.js";

/** An attempt failed for a reason the processor already put in the client's terms. */
export class JobAttemptError extends Error {
  readonly failure: JobFailure;

  constructor(failure: JobFailure, options: { cause?: unknown } = {}) {
    super(failure.message, { cause: options.cause });
    this.name = "JobAttemptError";
    this.failure = failure;
  }
}

/**
 * What a client may learn of an attempt's failure, and whether another attempt could succeed: a bad
 * payload or a provider's 4xx fails the job at once; provider outages and unknown failures retry.
 * Provider text never reaches the client (the worker logs the cause).
 */
export function classifyJobError(error: unknown): JobFailure {
  if (error instanceof JobAttemptError) return error.failure;
  if (error instanceof NoSuchModelError)
    return { code: "NOT_FOUND", message: error.message, retryable: false };
  if (error instanceof InvalidRequestError) {
    return { code: "INVALID_ARGUMENT", message: error.message, retryable: false };
  }
  if (error instanceof ProviderError) {
    const causes = error instanceof NoTargetAvailableError ? error.errors : [error];
    if (causes.length > 0 && causes.every((cause) => !cause.isRetryable)) {
      return {
        code: "INVALID_ARGUMENT",
        message: `model provider "${error.provider}" refused the request${
          error.statusCode ? ` (HTTP ${error.statusCode})` : ""
        }; check its parameters for this model`,
        retryable: false,
      };
    }
    return {
      code: "UNAVAILABLE",
      message: `model provider "${error.provider}" failed to answer`,
      retryable: true,
    };
  }
  return { code: "INTERNAL", message: "internal error", retryable: true };
}
