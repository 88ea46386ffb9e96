import { ProviderError } from "./provider-error.js";

/** A target took longer than its time-to-first-token or total timeout; the upstream call was aborted. Retryable. */
export class TimeoutError extends ProviderError {
  readonly kind: "first-token" | "total";
  readonly timeoutMs: number;

  constructor(kind: "first-token" | "total", timeoutMs: number, provider: string) {
    super(
      kind === "first-token"
        ? `no first token within ${timeoutMs} ms`
        : `the answer did not complete within ${timeoutMs} ms`,
      { provider, isRetryable: true },
    );
    this.name = "TimeoutError";
    this.kind = kind;
    this.timeoutMs = timeoutMs;
  }
}
