import { describe, expect, it } from "vitest";
import { CircuitOpenError } from "./circuit-open-error.js";
import { NoTargetAvailableError } from "./no-target-available-error.js";
import { ProviderError } from "./provider-error.js";

const skipped = (target: string) => new CircuitOpenError(target, Date.now() + 60_000, "openai");
const failed = new ProviderError("503", { provider: "anthropic", statusCode: 503, isRetryable: true });

describe("NoTargetAvailableError", () => {
  it("tells targets called apart from targets whose open breaker skipped them", () => {
    expect(new NoTargetAvailableError("fast", [skipped("openai/gpt-4o-mini")]).message).toBe(
      'no target of "fast" could answer (0 tried, 1 skipped: circuit open); try again later',
    );
    expect(new NoTargetAvailableError("fast", [skipped("openai/gpt-4o-mini"), failed]).message).toBe(
      'no target of "fast" could answer (1 tried, 1 skipped: circuit open); try again later',
    );
    expect(new NoTargetAvailableError("fast", [failed, failed]).message).toBe(
      'no target of "fast" could answer (2 tried); try again later',
    );
  });
});
