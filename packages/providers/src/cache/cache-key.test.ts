import { describe, expect, it } from "vitest";
import type { CallOptions } from "../language-model.js";
import { cacheKey, isRepeatable } from "./cache-key.js";

const identity = { requested: "default", resolved: ["openai/gpt-4o-mini", "anthropic/claude-haiku-5-5"] };
const base: CallOptions = {
  messages: [
    { role: "system", content: "You are terse." },
    { role: "user", content: "Tell me about the sea." },
  ],
  maxTokens: 16,
  temperature: 0,
  stop: ["\n", "END"],
};
const key = (options: CallOptions, scope = "tenant:acme", named = identity) =>
  cacheKey(named, options, scope);

describe("cacheKey", () => {
  it("is the same for equal requests, whatever their key order, defaults and per-call extras", () => {
    const reordered = JSON.parse(
      '{"stop":["END","\\n","END",""],"temperature":-0,"maxTokens":16,"topP":1,"messages":[{"content":"You are terse.","role":"system"},{"content":"Tell me about the sea.","role":"user"}]}',
    ) as CallOptions;
    const withExtras: CallOptions = {
      ...base,
      signal: new AbortController().signal,
      onAttempt: () => {},
      cache: { mode: "force", ttlSeconds: 60, scope: "ignored here" },
    };
    expect(key(reordered)).toBe(key(base));
    expect(key(withExtras)).toBe(key(base));
    expect(key(base)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("differs for everything that changes the answer", () => {
    const variants: CallOptions[] = [
      { ...base, messages: [...base.messages, { role: "assistant", content: "Waves." }] },
      { ...base, messages: [{ role: "user", content: "You are terse." }, base.messages[1] as never] },
      {
        ...base,
        messages: [base.messages[0] as never, { role: "user", content: "Tell me about the sea. " }],
      },
      { ...base, maxTokens: 17 },
      { ...base, maxTokens: undefined },
      { ...base, temperature: 0.2 },
      { ...base, temperature: undefined },
      { ...base, topP: 0.9 },
      { ...base, stop: ["\n"] },
      { ...base, seed: 1 },
    ];
    const keys = new Set([key(base), ...variants.map((options) => key(options))]);
    expect(keys.size).toBe(variants.length + 1);
  });

  it("differs by scope and by the model as requested and as resolved", () => {
    expect(key(base, "tenant:globex")).not.toBe(key(base));
    expect(key(base, "tenant:acme", { ...identity, requested: "openai/gpt-4o-mini" })).not.toBe(key(base));
    expect(key(base, "tenant:acme", { ...identity, resolved: ["anthropic/claude-haiku-5-5"] })).not.toBe(
      key(base),
    );
  });
});

describe("isRepeatable", () => {
  it("holds for greedy or seeded sampling only", () => {
    expect(isRepeatable({ temperature: 0 })).toBe(true);
    expect(isRepeatable({ temperature: 0.7, seed: 42 })).toBe(true);
    expect(isRepeatable({ seed: 0 })).toBe(true);
    expect(isRepeatable({ temperature: 0.7 })).toBe(false);
    // Unset is the provider's default temperature (1 for OpenAI and Anthropic).
    expect(isRepeatable({})).toBe(false);
  });
});
