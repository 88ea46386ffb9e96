import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CallOptions, GenerateResult, LanguageModel, StreamPart } from "../language-model.js";

/** What a provider's test gives the contract suite. */
export interface ContractSubject {
  model: LanguageModel;
  /** Called after a stream was aborted mid-way: assert the work stopped upstream (connection closed, generation ended). */
  assertStoppedAfterAbort?: () => Promise<void>;
  close?: () => Promise<void>;
}

const messages: CallOptions["messages"] = [
  { role: "system", content: "You are terse." },
  { role: "user", content: "Tell me about the sea." },
];

async function collect(stream: AsyncIterable<StreamPart>): Promise<StreamPart[]> {
  const parts: StreamPart[] = [];
  for await (const part of stream) parts.push(part);
  return parts;
}

function textOf(parts: StreamPart[]): string {
  return parts.map((part) => (part.type === "text-delta" ? part.text : "")).join("");
}

/**
 * The behaviour every LanguageModel must have, whatever the vendor: one suite, run by each provider's
 * tests against the real SDK (and a loopback server speaking the vendor's wire format where needed).
 */
export function describeLanguageModelContract(name: string, setup: () => Promise<ContractSubject>): void {
  describe(`LanguageModel contract: ${name}`, () => {
    let subject: ContractSubject;
    beforeAll(async () => {
      subject = await setup();
    });
    afterAll(async () => {
      await subject?.close?.();
    });

    it("generates text with a finish reason and the tokens used", async () => {
      const result = await subject.model.generate({ messages, maxTokens: 16, temperature: 0, seed: 1 });
      expect(result.text.length).toBeGreaterThan(0);
      expect(["stop", "length"]).toContain(result.finishReason);
      expect(result.usage.promptTokens).toBeGreaterThan(0);
      expect(result.usage.completionTokens).toBeGreaterThan(0);
      expect(result.usage.completionTokens).toBeLessThanOrEqual(16);
    });

    it("streams text deltas and ends with exactly one finish part carrying usage", async () => {
      const parts = await collect(subject.model.stream({ messages, maxTokens: 16, temperature: 0, seed: 1 }));
      const finishes = parts.filter((part) => part.type === "finish");
      expect(finishes).toHaveLength(1);
      expect(parts.at(-1)?.type).toBe("finish");
      expect(parts.filter((part) => part.type === "text-delta").length).toBeGreaterThan(1);
      const finish = finishes[0] as Extract<StreamPart, { type: "finish" }>;
      expect(finish.usage.promptTokens).toBeGreaterThan(0);
      expect(finish.usage.completionTokens).toBeGreaterThan(0);
    });

    it("streams the same text it generates (greedy, seeded)", async () => {
      const options = { messages, maxTokens: 12, temperature: 0, seed: 7 };
      const generated = await subject.model.generate(options);
      const streamed = await collect(subject.model.stream(options));
      expect(textOf(streamed)).toBe(generated.text);
    });

    it("stops at max tokens with finish reason length", async () => {
      const result = await subject.model.generate({ messages, maxTokens: 5, temperature: 0 });
      expect(result.finishReason).toBe("length");
      expect(result.usage.completionTokens).toBeLessThanOrEqual(5);
      expect(result.usage.completionTokens).toBeGreaterThan(0);
    });

    it("stops at a stop sequence, without including it", async () => {
      const first: GenerateResult = await subject.model.generate({ messages, maxTokens: 24, temperature: 0 });
      // A stop sequence taken from the middle of the greedy answer must cut the same answer there.
      const words = first.text.split(/(\s+)/).filter((word) => word.trim().length >= 2);
      const stop = words[Math.floor(words.length / 2)];
      expect(stop, `no word to stop at in ${JSON.stringify(first.text)}`).toBeDefined();
      const cut = await subject.model.generate({
        messages,
        maxTokens: 24,
        temperature: 0,
        stop: [stop as string],
      });
      expect(cut.finishReason).toBe("stop");
      expect(cut.text).not.toContain(stop);
      expect(first.text.startsWith(cut.text)).toBe(true);
      expect(cut.text.length).toBeLessThan(first.text.length);
    });

    it("ends a stream aborted mid-way with finish reason cancelled and stops the work", async () => {
      const abort = new AbortController();
      const parts: StreamPart[] = [];
      for await (const part of subject.model.stream({
        messages,
        maxTokens: 400,
        temperature: 0,
        signal: abort.signal,
      })) {
        parts.push(part);
        if (parts.length === 2) abort.abort();
      }
      const last = parts.at(-1);
      expect(last?.type).toBe("finish");
      expect(last?.type === "finish" && last.finishReason).toBe("cancelled");
      expect(last?.type === "finish" && last.usage.completionTokens).toBeLessThan(400);
      await subject.assertStoppedAfterAbort?.();
    });
  });
}
