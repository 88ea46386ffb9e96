import { describe, expect, it } from "vitest";
import { CircuitOpenError } from "../errors/circuit-open-error.js";
import { ProviderError } from "../errors/provider-error.js";
import { createFakeLanguageModel } from "../testing/fake-language-model.js";
import { createCircuitBreaker } from "./circuit-breaker.js";
import { withCircuitBreaker } from "./with-circuit-breaker.js";

const messages = [{ role: "user" as const, content: "hi" }];
const failure = new ProviderError("503", { provider: "a", statusCode: 503, isRetryable: true });
const unauthorized = new ProviderError("401", { provider: "a", statusCode: 401, isRetryable: false });

describe("withCircuitBreaker", () => {
  it("opens after consecutive target failures and then skips the target without calling it", async () => {
    const fake = createFakeLanguageModel("a", "m", [{ error: failure }]);
    const breaker = createCircuitBreaker({ failureThreshold: 2, cooldownMs: 60_000 });
    const model = withCircuitBreaker(fake.model, breaker);
    await expect(model.generate({ messages })).rejects.toBe(failure);
    await expect(model.generate({ messages })).rejects.toBe(failure);
    const skipped = await model.generate({ messages }).catch((error: unknown) => error);
    expect(skipped).toBeInstanceOf(CircuitOpenError);
    expect((skipped as CircuitOpenError).isRetryable).toBe(true);
    expect(fake.state.calls).toBe(2);
  });

  it("does not count the caller's errors (400, 401) as target failures", async () => {
    const fake = createFakeLanguageModel("a", "m", [{ error: unauthorized }]);
    const breaker = createCircuitBreaker({ failureThreshold: 1, cooldownMs: 60_000 });
    const model = withCircuitBreaker(fake.model, breaker);
    for (let i = 0; i < 3; i++) await expect(model.generate({ messages })).rejects.toBe(unauthorized);
    expect(breaker.snapshot().state).toBe("closed");
  });

  it("closes again after a successful stream", async () => {
    const fake = createFakeLanguageModel("a", "m", [{ error: failure }, { chunks: ["ok"] }]);
    const clock = { now: 0 };
    const breaker = createCircuitBreaker({ failureThreshold: 1, cooldownMs: 10, now: () => clock.now });
    const model = withCircuitBreaker(fake.model, breaker);
    await expect(model.generate({ messages })).rejects.toBe(failure);
    clock.now = 10;
    for await (const _ of model.stream({ messages })) {
      // drain
    }
    expect(breaker.snapshot().state).toBe("closed");
  });
});
