import { describe, expect, it } from "vitest";
import { isOpenAIReasoningModel } from "./is-openai-reasoning-model.js";

describe("isOpenAIReasoningModel", () => {
  it.each(["o1", "o1-mini", "o3", "o3-mini-2025-01-31", "o4-mini", "gpt-5", "gpt-5-mini"])(
    "%s is one",
    (id) => {
      expect(isOpenAIReasoningModel(id)).toBe(true);
    },
  );

  it.each([
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1-mini",
    "gpt-5-chat-latest",
    "llama3.1:8b",
    "omni-moderation",
    "qwen2.5",
  ])("%s is not", (id) => {
    expect(isOpenAIReasoningModel(id)).toBe(false);
  });
});
