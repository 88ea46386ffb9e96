import { describe, expect, it } from "vitest";
import { ProviderError } from "../errors/provider-error.js";
import type { AttemptEvent, StreamPart } from "../language-model.js";
import { createFakeLanguageModel } from "../testing/fake-language-model.js";
import { defaultRetryPolicy, retryDelay, withRetry } from "./with-retry.js";

const messages = [{ role: "user" as const, content: "hi" }];
const unavailable = (retryAfterMs?: number) =>
  new ProviderError("503", { provider: "fake", statusCode: 503, isRetryable: true, retryAfterMs });
const badRequest = new ProviderError("400", { provider: "fake", statusCode: 400, isRetryable: false });

function setup(behaviours: Parameters<typeof createFakeLanguageModel>[2], policy = {}) {
  const fake = createFakeLanguageModel("fake", "m", behaviours);
  const delays: number[] = [];
  const model = withRetry(
    fake.model,
    { ...defaultRetryPolicy, baseDelayMs: 100, ...policy },
    {
      random: () => 0.5,
      sleep: async (ms, signal) => {
        delays.push(ms);
        return !signal?.aborted;
      },
    },
  );
  return { fake, model, delays };
}

async function collect(stream: AsyncIterable<StreamPart>) {
  const parts: StreamPart[] = [];
  for await (const part of stream) parts.push(part);
  return parts;
}

describe("retryDelay", () => {
  it("doubles per retry with up to 30% jitter, capped, and never below the server's delay", () => {
    const policy = { ...defaultRetryPolicy, baseDelayMs: 1000 };
    expect(retryDelay(1, policy, () => 0)).toBe(1000);
    expect(retryDelay(3, policy, () => 0)).toBe(4000);
    expect(retryDelay(3, policy, () => 1)).toBe(5200);
    expect(retryDelay(20, policy, () => 1)).toBe(300_000);
    expect(retryDelay(1, policy, () => 0, 7000)).toBe(7000);
  });
});

describe("withRetry", () => {
  it("retries retryable failures with backoff and reports every attempt", async () => {
    const { fake, model, delays } = setup([
      { error: unavailable() },
      { error: unavailable() },
      { chunks: ["ok"] },
    ]);
    const events: AttemptEvent[] = [];
    const result = await model.generate({ messages, onAttempt: (event) => events.push(event) });
    expect(result.text).toBe("ok");
    expect(fake.state.calls).toBe(3);
    expect(delays).toEqual([115, 230]);
    expect(events.map((event) => [event.attempt, event.outcome])).toEqual([
      [1, "error"],
      [2, "error"],
      [3, "ok"],
    ]);
  });

  it("gives up after maxAttempts with the last error", async () => {
    const { fake, model } = setup([{ error: unavailable() }]);
    await expect(model.generate({ messages })).rejects.toThrow("503");
    expect(fake.state.calls).toBe(3);
  });

  it("never retries a non-retryable error or a bug", async () => {
    for (const error of [badRequest, new TypeError("bug")]) {
      const { fake, model } = setup([{ error }]);
      await expect(model.generate({ messages })).rejects.toBe(error);
      expect(fake.state.calls).toBe(1);
    }
  });

  it("waits what the server asked for, and gives the target up when that is too long", async () => {
    const honoured = setup([{ error: unavailable(2_000) }, { chunks: ["ok"] }]);
    await honoured.model.generate({ messages });
    expect(honoured.delays).toEqual([2_000]);

    const tooLong = setup([{ error: unavailable(60_000) }, { chunks: ["ok"] }], { maxRetryDelayMs: 20_000 });
    await expect(tooLong.model.generate({ messages })).rejects.toThrow("503");
    expect(tooLong.fake.state.calls).toBe(1);
  });

  it("retries a stream that fails before its first token, not after", async () => {
    const before = setup([{ error: unavailable() }, { chunks: ["a", "b"] }]);
    const parts = await collect(before.model.stream({ messages }));
    expect(parts.map((part) => part.type)).toEqual(["text-delta", "text-delta", "finish"]);

    const after = setup([{ chunks: ["a"], thenError: unavailable() }, { chunks: ["x"] }]);
    const received: StreamPart[] = [];
    await expect(
      (async () => {
        for await (const part of after.model.stream({ messages })) received.push(part);
      })(),
    ).rejects.toThrow("503");
    expect(received).toEqual([{ type: "text-delta", text: "a" }]);
    expect(after.fake.state.calls).toBe(1);
  });

  it("ends as cancelled when the caller leaves during a backoff", async () => {
    const { model } = setup([{ error: unavailable() }, { chunks: ["ok"] }]);
    const abort = new AbortController();
    abort.abort();
    const parts = await collect(model.stream({ messages, signal: abort.signal }));
    expect(parts).toEqual([
      { type: "finish", finishReason: "cancelled", usage: { promptTokens: 0, completionTokens: 0 } },
    ]);
  });
});
