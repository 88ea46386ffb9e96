import { CircuitOpenError } from "./circuit-open-error.js";
import { ProviderError } from "./provider-error.js";

/** Every target of a route failed or was skipped by its breaker; maps to UNAVAILABLE. The message is safe to show. */
export class NoTargetAvailableError extends ProviderError {
  readonly route: string;
  /** One per target given up: its failure, or the CircuitOpenError of a target skipped without a call. */
  readonly errors: ProviderError[];

  constructor(route: string, errors: ProviderError[]) {
    const last = errors.at(-1);
    super(`no target of "${route}" could answer (${triedAndSkipped(errors)}); try again later`, {
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

/** "2 tried", "1 tried, 1 skipped: circuit open", "0 tried, 2 skipped: circuit open". */
function triedAndSkipped(errors: ProviderError[]): string {
  const skipped = errors.filter((error) => error instanceof CircuitOpenError).length;
  const tried = `${errors.length - skipped} tried`;
  return skipped === 0 ? tried : `${tried}, ${skipped} skipped: circuit open`;
}

function minimum(values: Array<number | undefined>): number | undefined {
  const known = values.filter((value): value is number => value !== undefined);
  return known.length > 0 ? Math.min(...known) : undefined;
}
