import { describe, expect, it } from "vitest";
import { parsePricingConfig } from "./parse-pricing-config.js";

describe("parsePricingConfig", () => {
  it("is empty when the config has no pricing section", () => {
    expect(parsePricingConfig(undefined)).toEqual({});
    expect(parsePricingConfig(null)).toEqual({});
  });

  it("accepts exact ids, provider wildcards and a long-context tier", () => {
    const pricing = {
      "openai/gpt-4o": { inputPerMillion: 2.5, outputPerMillion: 10 },
      "llama-cpp/*": { inputPerMillion: 0, outputPerMillion: 0 },
      "anthropic/claude-haiku-5-5": {
        inputPerMillion: 0.1,
        outputPerMillion: 0.5,
        longContext: { abovePromptTokens: 100_000, inputPerMillion: 0.5, outputPerMillion: 2.5 },
      },
    };
    expect(parsePricingConfig(pricing)).toEqual(pricing);
  });

  it("lists every bad field by path", () => {
    const parse = () =>
      parsePricingConfig({
        "gpt-4o": { inputPerMillion: 1, outputPerMillion: 1 },
        "openai/gpt-*": { inputPerMillion: 1, outputPerMillion: 1 },
        "openai/gpt-4o": { inputPerMillion: "2.5", outputPerMillion: -1, inputPerMilion: 2 },
        "openai/o3": { inputPerMillion: 2, outputPerMillion: 8, longContext: { abovePromptTokens: 1.5 } },
        "openai/o4-mini": 3,
      });
    expect(parse).toThrow(/^invalid pricing config: /);
    const message = (() => {
      try {
        parse();
        return "";
      } catch (error) {
        return (error as Error).message;
      }
    })();
    for (const path of [
      "gpt-4o: a key is",
      "openai/gpt-*: a key is",
      "openai/gpt-4o.inputPerMillion: expected a number",
      "openai/gpt-4o.outputPerMillion: expected a number",
      "openai/gpt-4o.inputPerMilion: unknown field",
      "openai/o3.longContext.abovePromptTokens: expected an integer",
      "openai/o3.longContext.inputPerMillion: expected a number",
      "openai/o4-mini: expected {",
    ]) {
      expect(message).toContain(path);
    }
  });

  it("refuses a pricing section that is not an object", () => {
    expect(() => parsePricingConfig([])).toThrow(/\(root\)/);
    expect(() => parsePricingConfig("free")).toThrow(/\(root\)/);
  });
});
