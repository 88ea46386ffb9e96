import { afterAll, describe, expect, it } from "vitest";
import { ContextLengthExceededError } from "../errors/context-length-exceeded-error.js";
import type { CallOptions, StreamPart } from "../language-model.js";
import { describeLanguageModelContract } from "../testing/language-model-contract.js";
import { tinyModelPath, tinyModelThreads } from "./__fixtures__/tiny-model-path.js";
import { createLlamaCppLanguageModel } from "./llama-cpp-language-model.js";
import { createLlamaCppModelManager, type LlamaCppModelManagerOptions } from "./llama-cpp-model-manager.js";

const messages: CallOptions["messages"] = [{ role: "user", content: "Tell me a story." }];

function setup(options: Partial<LlamaCppModelManagerOptions> = {}) {
  const manager = createLlamaCppModelManager({
    models: [{ id: "tiny", path: tinyModelPath }],
    threads: tinyModelThreads,
    ...options,
  });
  return { manager, model: createLlamaCppLanguageModel({ modelId: "tiny", manager }) };
}

async function collect(stream: AsyncIterable<StreamPart>): Promise<StreamPart[]> {
  const parts: StreamPart[] = [];
  for await (const part of stream) parts.push(part);
  return parts;
}

describeLanguageModelContract("llama-cpp", async () => {
  const { manager, model } = setup();
  return {
    model,
    async assertStoppedAfterAbort() {
      expect(manager.stats().activeGenerations).toBe(0);
      expect(manager.stats().recentGenerations.at(-1)).toMatchObject({ finishReason: "cancelled" });
    },
    close: () => manager.close(),
  };
});

describe("createLlamaCppLanguageModel", () => {
  const { manager, model } = setup();
  afterAll(() => manager.close());

  it("streams text deltas as tokens come, then one finish with usage", async () => {
    const parts = await collect(model.stream({ messages, maxTokens: 20, temperature: 0 }));
    const deltas = parts.filter((part) => part.type === "text-delta");
    expect(deltas.length).toBeGreaterThan(1);
    expect(parts.at(-1)).toEqual({
      type: "finish",
      finishReason: "length",
      usage: { promptTokens: expect.any(Number), completionTokens: 20 },
    });
    const generated = await model.generate({ messages, maxTokens: 20, temperature: 0 });
    expect(generated.text).toBe(deltas.map((part) => part.text).join(""));
    expect(generated.usage).toEqual((parts.at(-1) as { usage: unknown }).usage);
  });

  it("counts the tokens of the templated prompt", async () => {
    const short = await model.generate({ messages, maxTokens: 1 });
    const withSystem = await model.generate({
      messages: [{ role: "system", content: "You are a storyteller." }, ...messages],
      maxTokens: 1,
    });
    // The template adds tokens of its own around the user's few words.
    expect(short.usage.promptTokens).toBeGreaterThan(5);
    expect(withSystem.usage.promptTokens).toBeGreaterThan(short.usage.promptTokens);
  });

  it("repeats an answer for the same seed and sampling, and varies it with the seed", async () => {
    const sample = (seed: number) =>
      model.generate({ messages, maxTokens: 16, temperature: 1, topP: 0.9, seed });
    const first = await sample(1);
    expect((await sample(1)).text).toBe(first.text);
    expect((await sample(2)).text).not.toBe(first.text);
  });

  it("stops at a stop sequence the model produces, even one inside a token, without returning it", async () => {
    const greedy = await model.generate({ messages, maxTokens: 24, temperature: 0 });
    // Four characters from the middle of the greedy answer (here "wsCa", which starts inside a token).
    const middle = Math.floor(greedy.text.length / 2);
    const stop = greedy.text.slice(middle, middle + 4);
    const cut = await model.generate({ messages, maxTokens: 24, temperature: 0, stop: [stop] });
    expect(cut.finishReason).toBe("stop");
    expect(cut.text).toBe(greedy.text.slice(0, greedy.text.indexOf(stop)));
  });

  it("runs greedy on the tiny model without reaching end of generation early", async () => {
    // The aborts below rely on it: a cancelled finish must come from the abort, not from an EOS token.
    const result = await model.generate({ messages, maxTokens: 300, temperature: 0 });
    expect(result).toMatchObject({ finishReason: "length", usage: { completionTokens: 300 } });
  });

  it("ends a stream aborted mid-way with cancelled, stops generating and frees the sequence", async () => {
    const abort = new AbortController();
    const parts: StreamPart[] = [];
    for await (const part of model.stream({
      messages,
      maxTokens: 2000,
      temperature: 0,
      signal: abort.signal,
    })) {
      parts.push(part);
      if (parts.length === 3) abort.abort();
    }
    expect(parts.at(-1)).toMatchObject({ type: "finish", finishReason: "cancelled" });
    const { activeGenerations, recentGenerations } = manager.stats();
    expect(activeGenerations).toBe(0);
    const recorded = recentGenerations.at(-1);
    expect(recorded?.finishReason).toBe("cancelled");
    expect(recorded?.completionTokens).toBeLessThan(10);
  });

  it("counts as used by a cancelled stream only the tokens it delivered before the abort", async () => {
    const abort = new AbortController();
    let received = "";
    let deltas = 0;
    let finish: StreamPart | undefined;
    for await (const part of model.stream({
      messages,
      maxTokens: 2000,
      temperature: 0,
      signal: abort.signal,
    })) {
      if (part.type === "finish") finish = part;
      else {
        received += part.text;
        if (++deltas === 3) abort.abort();
      }
    }
    expect(finish).toMatchObject({ finishReason: "cancelled" });
    const recorded = finish?.type === "finish" ? finish.usage.completionTokens : -1;
    // Greedy decoding is repeatable: the same answer cut at that many tokens is exactly the text received.
    const cut = await model.generate({ messages, maxTokens: recorded, temperature: 0 });
    expect(cut.text).toBe(received);
  });

  it("stops generating and frees the sequence when the consumer breaks out early", async () => {
    let deltas = 0;
    for await (const part of model.stream({ messages, maxTokens: 2000, temperature: 0 })) {
      if (part.type === "text-delta" && ++deltas === 2) break;
    }
    const { activeGenerations, recentGenerations } = manager.stats();
    expect(activeGenerations).toBe(0);
    expect(recentGenerations.at(-1)?.finishReason).toBe("cancelled");
    expect(recentGenerations.at(-1)?.completionTokens).toBeLessThan(10);
  });

  it("answers an already aborted request with an empty cancelled finish", async () => {
    const parts = await collect(model.stream({ messages, signal: AbortSignal.abort() }));
    expect(parts).toEqual([
      { type: "finish", finishReason: "cancelled", usage: { promptTokens: 0, completionTokens: 0 } },
    ]);
  });

  it("runs two streams on the same model side by side", async () => {
    const events: string[] = [];
    const consume = async (name: string) => {
      for await (const part of model.stream({
        messages: [{ role: "user", content: `Story ${name}` }],
        maxTokens: 40,
        temperature: 0,
      })) {
        events.push(`${name}:${part.type}`);
      }
    };
    await Promise.all([consume("a"), consume("b")]);
    expect(events.indexOf("a:text-delta")).toBeLessThan(events.indexOf("b:finish"));
    expect(events.indexOf("b:text-delta")).toBeLessThan(events.indexOf("a:finish"));
  });
});

describe("createLlamaCppLanguageModel with a small context", () => {
  // llama.cpp sizes contexts in multiples of 256 tokens, so this is the smallest exact one.
  const { manager, model } = setup({ contextSize: 256 });
  afterAll(() => manager.close());

  it("rejects a prompt that does not fit the context with an actionable error, and reports no usage for it", async () => {
    const heard: unknown[] = [];
    const request = model.generate({
      messages: [{ role: "user", content: "word ".repeat(300) }],
      maxTokens: 5,
      // What the caller hears is charged to the key's token budget: a refused prompt used nothing.
      onUsage: (usage) => heard.push(usage),
    });
    await expect(request).rejects.toBeInstanceOf(ContextLengthExceededError);
    expect(heard).toEqual([]);
    await expect(request).rejects.toThrow(
      /prompt is \d+ tokens .* context of 256 tokens .* shorten the conversation/,
    );
  });

  it("ends an answer with length when the context is full, rather than shifting the prompt out", async () => {
    const result = await model.generate({ messages, maxTokens: 1000, temperature: 0 });
    expect(result.finishReason).toBe("length");
    expect(result.usage.promptTokens + result.usage.completionTokens).toBe(256);
  });
});
