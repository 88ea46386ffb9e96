import { describe, expect, it } from "vitest";
import { mapOpenAIFinishReason } from "./map-openai-finish-reason.js";

describe("mapOpenAIFinishReason", () => {
  it.each([
    ["stop", "stop"],
    ["length", "length"],
    ["content_filter", "content-filter"],
    ["tool_calls", "stop"],
    ["function_call", "stop"],
    [null, "stop"],
    [undefined, "stop"],
    ["something_new", "stop"],
  ] as const)("maps %s to %s", (reason, expected) => {
    expect(mapOpenAIFinishReason(reason)).toBe(expected);
  });
});
