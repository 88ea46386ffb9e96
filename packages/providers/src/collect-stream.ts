import { ProviderError } from "./errors/provider-error.js";
import type { GenerateResult, StreamPart } from "./language-model.js";

/**
 * `generate` for models whose one code path is their stream: joins the text deltas and returns with
 * the finish part. A stream without a finish part is a bug in the model, not a cut (those throw).
 */
export async function collectStream(
  parts: AsyncIterable<StreamPart>,
  model: { provider: string; modelId: string },
): Promise<GenerateResult> {
  const texts: string[] = [];
  for await (const part of parts) {
    if (part.type === "text-delta") texts.push(part.text);
    else return { text: texts.join(""), finishReason: part.finishReason, usage: part.usage };
  }
  throw new ProviderError(`${model.provider}: the stream of "${model.modelId}" ended without a finish part`, {
    provider: model.provider,
    isRetryable: false,
  });
}
