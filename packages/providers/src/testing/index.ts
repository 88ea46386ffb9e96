/** Test support other packages import (`@noa/providers/testing`): loopback vendor servers, fakes, the contract suite, the tiny model. */
export {
  ANTHROPIC_LOOPBACK_API_KEY,
  type AnthropicLoopbackServer,
  startAnthropicLoopbackServer,
} from "../anthropic/__fixtures__/anthropic-loopback-server.js";
export { tinyModelPath, tinyModelThreads } from "../llama-cpp/__fixtures__/tiny-model-path.js";
export {
  OPENAI_LOOPBACK_API_KEY,
  OPENAI_LOOPBACK_MODELS,
  startOpenAILoopbackServer,
} from "../openai/__fixtures__/openai-loopback-server.js";
export { createFakeLanguageModel, type FakeBehaviour } from "./fake-language-model.js";
export { type ContractSubject, describeLanguageModelContract } from "./language-model-contract.js";
export type { LoopbackFault, LoopbackRequest, LoopbackServer } from "./loopback-fault.js";
