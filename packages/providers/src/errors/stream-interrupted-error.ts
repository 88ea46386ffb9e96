import { ProviderError } from "./provider-error.js";
import { TimeoutError } from "./timeout-error.js";

/**
 * A stream failed after tokens had reached the caller, so it could not fall back: it ends with this
 * error, never as if complete. The message is written for clients (it holds no upstream text).
 */
export class StreamInterruptedError extends ProviderError {
  readonly tokensDelivered: number;

  constructor(tokensDelivered: number, cause: ProviderError) {
    super(
      cause instanceof TimeoutError && cause.kind === "total"
        ? `the stream was cut after ${tokensDelivered} tokens because the answer did not complete within the route's total timeout of ${cause.timeoutMs} ms; ask for fewer tokens or retry`
        : `the stream was cut after ${tokensDelivered} tokens because the model provider failed; retry the request`,
      {
        provider: cause.provider,
        statusCode: cause.statusCode,
        isRetryable: true,
        cause,
      },
    );
    this.name = "StreamInterruptedError";
    this.tokensDelivered = tokensDelivered;
  }
}
