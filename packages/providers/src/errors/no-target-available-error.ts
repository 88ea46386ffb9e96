import { ProviderError } from "./provider-error.js";

/** Every target of a route failed or was skipped by its breaker; maps to UNAVAILABLE. The message is safe to show. */
export class NoTargetAvailableError extends ProviderError {
  readonly route: string;
  readonly errors: ProviderError[];

  constructor(route: string, errors: ProviderError[]) {
    const last = errors.at(-1);
    super(`no target of "${route}" could answer (${errors.length} tried); try again later`, {
      provider: last?.provider ?? "router",
      statusCode: last?.statusCode,
      isRetryable: true,
      retryAfterMs: minimum(errors.map((error) => error.retryAfterMs)),
      cause: last,
    });
    this.name = "NoTargetAvailableError";
    this.route = route;
    this.errors = errors;
  }
}

function minimum(values: Array<number | undefined>): number | undefined {
  const known = values.filter((value): value is number => value !== undefined);
  return known.length > 0 ? Math.min(...known) : undefined;
}
