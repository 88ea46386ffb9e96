import type { LlamaChatResponse } from "node-llama-cpp";
import type { FinishReason } from "../language-model.js";

/** node-llama-cpp's reason for ending a response. */
export type LlamaStopReason = LlamaChatResponse["metadata"]["stopReason"];

/** Maps node-llama-cpp's stop reason to ours: end-of-generation tokens and stop triggers are `stop`. */
export function mapLlamaFinishReason(stopReason: LlamaStopReason): FinishReason {
  switch (stopReason) {
    case "maxTokens":
      return "length";
    case "abort":
      return "cancelled";
    case "eogToken":
    case "stopGenerationTrigger":
    case "customStopTrigger":
    case "functionCalls":
      return "stop";
  }
}
