import { ProviderError } from "./provider-error.js";

/** The target's circuit breaker is open: it was skipped without being called. Retryable elsewhere (fallback). */
export class CircuitOpenError extends ProviderError {
  readonly target: string;
  /** When the breaker lets a probe call through again (epoch ms). */
  readonly retryAt: number;

  constructor(target: string, retryAt: number, provider: string) {
    super(`circuit breaker for ${target} is open until ${new Date(retryAt).toISOString()}`, {
      provider,
      isRetryable: true,
      retryAfterMs: Math.max(0, retryAt - Date.now()),
    });
    this.name = "CircuitOpenError";
    this.target = target;
    this.retryAt = retryAt;
  }
}
