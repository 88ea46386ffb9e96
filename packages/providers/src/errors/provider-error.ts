/** Options shared by every error of the provider family. */
export interface ProviderErrorOptions {
  provider: string;
  /** HTTP status of the upstream response, when there was one. */
  statusCode?: number;
  /** Whether trying again (the same or another target) may succeed. */
  isRetryable: boolean;
  /** The delay the upstream asked for before a retry (retry-after-ms / retry-after). */
  retryAfterMs?: number;
  cause?: unknown;
}

/**
 * A provider failed. Retry and fallback decide on `isRetryable` only (after vercel/ai's APICallError);
 * the message is for logs and is never shown to clients as is.
 */
export class ProviderError extends Error {
  readonly provider: string;
  readonly statusCode: number | undefined;
  readonly isRetryable: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options: ProviderErrorOptions) {
    super(message, { cause: options.cause });
    this.name = "ProviderError";
    this.provider = options.provider;
    this.statusCode = options.statusCode;
    this.isRetryable = options.isRetryable;
    this.retryAfterMs = options.retryAfterMs;
  }
}
