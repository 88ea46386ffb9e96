import { NoTargetAvailableError } from "../errors/no-target-available-error.js";
import { ProviderError } from "../errors/provider-error.js";
import { StreamInterruptedError } from "../errors/stream-interrupted-error.js";
import type { LanguageModel, StreamPart } from "../language-model.js";

/**
 * Tries the route's targets in order, moving on after a retryable failure (or an open breaker) — but
 * only before the first token has reached the caller. A stream that fails later ends with a
 * StreamInterruptedError, never as if complete. A provider refusing NOA's own credentials (401, 403) is
 * not retried but moves on too: the next target may hold a working key. Any other non-retryable error
 * (the caller's fault) goes up at once.
 */
export function withFallback(route: string, targets: LanguageModel[]): LanguageModel {
  const failedOver = (error: unknown, errors: ProviderError[]) => {
    if (!(error instanceof ProviderError) || !(error.isRetryable || refusedOurKey(error))) throw error;
    errors.push(error);
  };
  return {
    provider: "router",
    modelId: route,
    async generate(options) {
      const errors: ProviderError[] = [];
      for (const target of targets) {
        try {
          return await target.generate(options);
        } catch (error) {
          failedOver(error, errors);
        }
      }
      throw new NoTargetAvailableError(route, errors);
    },
    async *stream(options): AsyncGenerator<StreamPart> {
      const errors: ProviderError[] = [];
      for (const target of targets) {
        let delivered = 0;
        try {
          for await (const part of target.stream(options)) {
            if (part.type === "text-delta") delivered++;
            yield part;
          }
          return;
        } catch (error) {
          if (delivered > 0 && error instanceof ProviderError)
            throw new StreamInterruptedError(delivered, error);
          failedOver(error, errors);
        }
      }
      throw new NoTargetAvailableError(route, errors);
    },
  };
}

/** The provider said NOA's key for it is bad or not allowed: the target is broken, not the request. */
function refusedOurKey(error: ProviderError): boolean {
  return error.statusCode === 401 || error.statusCode === 403;
}
