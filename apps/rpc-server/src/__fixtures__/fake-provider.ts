import { setTimeout as sleep } from "node:timers/promises";
import {
  type CallOptions,
  collectStream,
  type LanguageModel,
  type ModelInfo,
  NoSuchModelError,
  type Provider,
  ProviderError,
  type StreamPart,
} from "@noa/providers";

type Script = (options: CallOptions) => AsyncGenerator<StreamPart>;

const usage = (completionTokens: number) => ({ promptTokens: 3, completionTokens });

/** Scripted models for server tests that need failures or a generation that never ends by itself. */
const scripts: Record<string, Script> = {
  /** One token every 5 ms until the signal aborts. */
  async *endless({ signal }) {
    let tokens = 0;
    while (!signal?.aborted) {
      yield { type: "text-delta", text: "tok " };
      tokens++;
      await sleep(5);
    }
    yield { type: "finish", finishReason: "cancelled", usage: usage(tokens) };
  },
  /** Five tokens, 20 ms apart. */
  async *short() {
    for (let i = 0; i < 5; i++) {
      yield { type: "text-delta", text: `t${i} ` };
      await sleep(20);
    }
    yield { type: "finish", finishReason: "stop", usage: usage(5) };
  },
  // biome-ignore lint/correctness/useYield: fails before the first token by design
  async *failing() {
    throw new ProviderError("upstream said: 503 overloaded, key sk-secret-123 at /internal/path", {
      provider: "fake",
      statusCode: 503,
      isRetryable: true,
    });
  },
  // biome-ignore lint/correctness/useYield: a bug before the first token
  async *buggy() {
    throw new TypeError("Cannot read properties of undefined (reading 'secretInternalField')");
  },
  /** Two tokens, then the upstream connection is cut. */
  async *cut() {
    yield { type: "text-delta", text: "one " };
    yield { type: "text-delta", text: "two " };
    throw new ProviderError("socket hang up", { provider: "fake", isRetryable: true });
  },
};

/** A Provider (id `fake`) over the scripts above; `aborted` counts calls that saw their signal abort. */
export function createFakeProvider() {
  const state = { aborted: 0 };
  const model = (modelId: string): LanguageModel => {
    const found = scripts[modelId];
    if (!found) throw new NoSuchModelError(`fake/${modelId}`);
    const script: Script = found;
    async function* stream(options: CallOptions): AsyncGenerator<StreamPart> {
      try {
        yield* script(options);
      } finally {
        if (options.signal?.aborted) state.aborted++;
      }
    }
    return {
      provider: "fake",
      modelId,
      stream,
      generate: (options) => collectStream(stream(options), { provider: "fake", modelId }),
    };
  };
  const provider: Provider = {
    id: "fake",
    async listModels(): Promise<ModelInfo[]> {
      return Object.keys(scripts).map((id) => ({
        id: `fake/${id}`,
        provider: "fake",
        capabilities: ["chat", "streaming"],
        contextLength: 0,
        loaded: true,
      }));
    },
    languageModel: model,
    async close() {},
  };
  return { provider, state };
}
