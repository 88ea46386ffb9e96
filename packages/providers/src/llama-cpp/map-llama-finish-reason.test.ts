import { describe, expect, it } from "vitest";
import { type LlamaStopReason, mapLlamaFinishReason } from "./map-llama-finish-reason.js";

describe("mapLlamaFinishReason", () => {
  it.each<[LlamaStopReason, string]>([
    ["eogToken", "stop"],
    ["stopGenerationTrigger", "stop"],
    ["customStopTrigger", "stop"],
    ["functionCalls", "stop"],
    ["maxTokens", "length"],
    ["abort", "cancelled"],
  ])("maps %s to %s", (stopReason, finishReason) => {
    expect(mapLlamaFinishReason(stopReason)).toBe(finishReason);
  });
});
