import { ProviderError } from "./provider-error.js";

/**
 * A stream failed after tokens had reached the caller, so it could not fall back: it ends with this
 * error, never as if complete. The message is written for clients (it holds no upstream text).
 */
export class StreamInterruptedError extends ProviderError {
  readonly tokensDelivered: number;

  constructor(tokensDelivered: number, cause: ProviderError) {
    super(
      `the stream was cut after ${tokensDelivered} tokens because the model provider failed; retry the request`,
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
