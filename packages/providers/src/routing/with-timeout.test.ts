import { describe, expect, it } from "vitest";
import { TimeoutError } from "../errors/timeout-error.js";
import type { StreamPart } from "../language-model.js";
import { createFakeLanguageModel, drainStream as run } from "../testing/fake-language-model.js";
import { withTimeout } from "./with-timeout.js";

const messages = [{ role: "user" as const, content: "hi" }];

describe("withTimeout", () => {
  it("aborts a target that sends no first token in time and throws a retryable TimeoutError", async () => {
    const fake = createFakeLanguageModel("a", "m", [{ stallAfter: [] }]);
    const { error } = await run(withTimeout(fake.model, { firstTokenMs: 20 }).stream({ messages }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).kind).toBe("first-token");
    expect((error as TimeoutError).isRetryable).toBe(true);
    expect(fake.state.aborted).toBe(1);
  });

  it("aborts a stream that stalls mid-way past its total timeout", async () => {
    const fake = createFakeLanguageModel("a", "m", [{ stallAfter: ["a", "b"] }]);
    const { parts, error } = await run(
      withTimeout(fake.model, { firstTokenMs: 1_000, totalMs: 30 }).stream({ messages }),
    );
    expect(parts).toHaveLength(2);
    expect((error as TimeoutError).kind).toBe("total");
    expect(fake.state.aborted).toBe(1);
  });

  it("passes a caller's abort through as the cancelled ending, not a timeout", async () => {
    const fake = createFakeLanguageModel("a", "m", [{ stallAfter: ["a"] }]);
    const abort = new AbortController();
    const parts: StreamPart[] = [];
    for await (const part of withTimeout(fake.model, { totalMs: 60_000 }).stream({
      messages,
      signal: abort.signal,
    })) {
      parts.push(part);
      if (part.type === "text-delta") abort.abort();
    }
    expect(parts.at(-1)).toMatchObject({ type: "finish", finishReason: "cancelled" });
  });

  it("throws TimeoutError from generate too", async () => {
    const fake = createFakeLanguageModel("a", "m", [{ stallAfter: [] }]);
    await expect(withTimeout(fake.model, { totalMs: 20 }).generate({ messages })).rejects.toBeInstanceOf(
      TimeoutError,
    );
  });
});
