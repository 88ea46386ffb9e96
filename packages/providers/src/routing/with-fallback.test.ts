import { describe, expect, it } from "vitest";
import { NoTargetAvailableError } from "../errors/no-target-available-error.js";
import { ProviderError } from "../errors/provider-error.js";
import { StreamInterruptedError } from "../errors/stream-interrupted-error.js";
import { TimeoutError } from "../errors/timeout-error.js";
import { createFakeLanguageModel, drainStream as run } from "../testing/fake-language-model.js";
import { withFallback } from "./with-fallback.js";

const messages = [{ role: "user" as const, content: "hi" }];
const retryable = new ProviderError("503", { provider: "a", statusCode: 503, isRetryable: true });
const callerFault = new ProviderError("400", { provider: "a", statusCode: 400, isRetryable: false });

describe("withFallback", () => {
  it("answers from the next target after a retryable failure", async () => {
    const a = createFakeLanguageModel("a", "m", [{ error: retryable }]);
    const b = createFakeLanguageModel("b", "m", [{ chunks: ["from b"] }]);
    const { parts, error } = await run(withFallback("default", [a.model, b.model]).stream({ messages }));
    expect(error).toBeUndefined();
    expect(parts[0]).toEqual({ type: "text-delta", text: "from b" });
    expect((await withFallback("default", [a.model, b.model]).generate({ messages })).text).toBe("from b");
  });

  it("does not fall back on the caller's own mistake", async () => {
    const a = createFakeLanguageModel("a", "m", [{ error: callerFault }]);
    const b = createFakeLanguageModel("b", "m", [{ chunks: ["from b"] }]);
    const { error } = await run(withFallback("default", [a.model, b.model]).stream({ messages }));
    expect(error).toBe(callerFault);
    expect(b.state.calls).toBe(0);
  });

  it.for([401, 403])(
    "moves on when a provider refuses NOA's own key (%i), and says so when none is left",
    async (status) => {
      const refused = new ProviderError(String(status), {
        provider: "a",
        statusCode: status,
        isRetryable: false,
      });
      const a = createFakeLanguageModel("a", "m", [{ error: refused }, { error: refused }]);
      const b = createFakeLanguageModel("b", "m", [{ chunks: ["from b"] }]);
      expect((await withFallback("default", [a.model, b.model]).generate({ messages })).text).toBe("from b");
      const alone = await withFallback("solo", [a.model])
        .generate({ messages })
        .catch((error: unknown) => error);
      expect(alone).toBeInstanceOf(NoTargetAvailableError);
      expect((alone as NoTargetAvailableError).errors).toEqual([refused]);
    },
  );

  it("never falls back once a token reached the caller: the stream ends with StreamInterruptedError", async () => {
    const a = createFakeLanguageModel("a", "m", [{ chunks: ["one", "two"], thenError: retryable }]);
    const b = createFakeLanguageModel("b", "m", [{ chunks: ["from b"] }]);
    const { parts, error } = await run(withFallback("default", [a.model, b.model]).stream({ messages }));
    expect(parts.map((part) => part.type)).toEqual(["text-delta", "text-delta"]);
    expect(error).toBeInstanceOf(StreamInterruptedError);
    expect((error as StreamInterruptedError).tokensDelivered).toBe(2);
    expect((error as Error).message).toContain("cut after 2 tokens");
    expect(b.state.calls).toBe(0);
  });

  it("says when NOA's own total timeout, not the provider, cut a stream", async () => {
    const late = new TimeoutError("total", 400, "a");
    const a = createFakeLanguageModel("a", "m", [{ chunks: ["one"], thenError: late }]);
    const { error } = await run(withFallback("default", [a.model]).stream({ messages }));
    expect(error).toBeInstanceOf(StreamInterruptedError);
    expect((error as Error).message).toMatch(
      /^the stream was cut after 1 tokens because the answer did not complete within the route's total timeout of 400 ms/,
    );
  });

  it("reports every failure when no target could answer", async () => {
    const a = createFakeLanguageModel("a", "m", [{ error: retryable }]);
    const b = createFakeLanguageModel("b", "m", [{ error: retryable }]);
    const { error } = await run(withFallback("default", [a.model, b.model]).stream({ messages }));
    expect(error).toBeInstanceOf(NoTargetAvailableError);
    expect((error as NoTargetAvailableError).errors).toHaveLength(2);
    await expect(withFallback("default", [a.model, b.model]).generate({ messages })).rejects.toBeInstanceOf(
      NoTargetAvailableError,
    );
  });
});
