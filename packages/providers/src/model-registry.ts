import { NoSuchModelError } from "./errors/no-such-model-error.js";
import type { LanguageModel, ModelInfo, Provider } from "./language-model.js";

/** Every model the server can serve, addressed as `<provider>/<model>`. */
export interface ModelRegistry {
  /** All models of all providers, sorted by id. */
  listModels(): Promise<ModelInfo[]>;
  /** One model's description; throws NoSuchModelError. */
  getModel(id: string): Promise<ModelInfo>;
  /** The callable model; throws NoSuchModelError. */
  languageModel(id: string): LanguageModel;
  /** Closes every provider. */
  close(): Promise<void>;
}

/** Builds the registry over providers the composition root created from config. */
export function createModelRegistry({ providers }: { providers: Provider[] }): ModelRegistry {
  const byId = new Map(providers.map((provider) => [provider.id, provider]));

  function providerOf(id: string): { provider: Provider; modelId: string } {
    const slash = id.indexOf("/");
    const provider = slash > 0 ? byId.get(id.slice(0, slash)) : undefined;
    if (!provider) throw new NoSuchModelError(id);
    return { provider, modelId: id.slice(slash + 1) };
  }

  async function listModels(): Promise<ModelInfo[]> {
    const lists = await Promise.all(providers.map((provider) => provider.listModels()));
    return lists.flat().sort((a, b) => a.id.localeCompare(b.id));
  }

  return {
    listModels,
    async getModel(id) {
      const { provider } = providerOf(id);
      const model = (await provider.listModels()).find((candidate) => candidate.id === id);
      if (!model) throw new NoSuchModelError(id);
      return model;
    },
    languageModel(id) {
      const { provider, modelId } = providerOf(id);
      return provider.languageModel(modelId);
    },
    async close() {
      await Promise.all(providers.map((provider) => provider.close()));
    },
  };
}
