import type { FinishReason } from "../language-model.js";
import type { StopReason } from "./anthropic-api.js";

/**
 * Maps Anthropic's `stop_reason` (https://docs.anthropic.com/en/api/handling-stop-reasons) to ours.
 * Running out of tokens or of context is `length`; a refusal is `content-filter`; every other end,
 * including reasons added after this was written and a missing reason, is `stop`.
 */
export function mapAnthropicStopReason(stopReason: StopReason | null | undefined): FinishReason {
  switch (stopReason) {
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length";
    case "refusal":
      return "content-filter";
    default:
      return "stop";
  }
}
