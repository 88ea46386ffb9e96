/**
 * Whether an OpenAI model id names a reasoning model (o1, o3, o4-mini, gpt-5 but not gpt-5-chat), which
 * rejects `max_tokens` and non-default `temperature`/`top_p` with a 400, as vercel/ai's `isReasoningModel`;
 * ids of OpenAI-compatible servers (llama3, qwen2.5…) never match.
 * https://platform.openai.com/docs/guides/reasoning
 */
export function isOpenAIReasoningModel(modelId: string): boolean {
  return /^o\d/.test(modelId) || (modelId.startsWith("gpt-5") && !modelId.startsWith("gpt-5-chat"));
}
