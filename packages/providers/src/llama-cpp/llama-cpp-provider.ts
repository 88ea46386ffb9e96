import { readGgufFileInfo } from "node-llama-cpp";
import { NoSuchModelError } from "../errors/no-such-model-error.js";
import type { ModelInfo, Provider } from "../language-model.js";
import type { Logger } from "../logger.js";
import { type FindGgufModelsOptions, findGgufModels } from "./find-gguf-models.js";
import { createLlamaCppLanguageModel } from "./llama-cpp-language-model.js";
import { createLlamaCppModelManager, type LlamaCppModelManager } from "./llama-cpp-model-manager.js";
import { LLAMA_CPP_PROVIDER_ID } from "./llama-cpp-provider-id.js";

/** Where the GGUF files are and how to run them; see `LlamaCppModelManagerOptions` for the limits. */
export interface LlamaCppProviderOptions extends FindGgufModelsOptions {
  /** CPU threads for evaluation; pass the core count. */
  threads: number;
  maxLoadedModels?: number;
  sequencesPerModel?: number;
  contextSize?: number;
  logger?: Logger;
}

/** The llama.cpp provider, with its model manager exposed for stats. */
export interface LlamaCppProvider extends Provider {
  readonly manager: LlamaCppModelManager;
}

/**
 * Serves the local GGUF files found at startup as `llama-cpp/<file stem>`; models load on first use.
 * Throws if a named file does not exist, so a misconfigured server fails at startup.
 */
export function createLlamaCppProvider({
  modelPaths,
  modelsDir,
  logger,
  ...managerOptions
}: LlamaCppProviderOptions): LlamaCppProvider {
  const files = findGgufModels({ modelPaths, modelsDir });
  const manager = createLlamaCppModelManager({ models: files, logger, ...managerOptions });
  const trainContextSizes = new Map<string, Promise<number>>();

  function trainContextSize(path: string): Promise<number> {
    let size = trainContextSizes.get(path);
    if (!size) {
      // Reads only the GGUF header, so listing never loads a model.
      size = readGgufFileInfo(path, { readTensorInfo: false }).then(
        (info) => info.architectureMetadata.context_length ?? 0,
        (error: unknown) => {
          trainContextSizes.delete(path);
          logger?.warn({ path, err: error }, "cannot read GGUF metadata");
          return 0;
        },
      );
      trainContextSizes.set(path, size);
    }
    return size;
  }

  return {
    id: LLAMA_CPP_PROVIDER_ID,
    manager,
    async listModels(): Promise<ModelInfo[]> {
      return Promise.all(
        files.map(
          async ({ id, path }): Promise<ModelInfo> => ({
            id: `${LLAMA_CPP_PROVIDER_ID}/${id}`,
            provider: LLAMA_CPP_PROVIDER_ID,
            capabilities: ["chat", "completion", "streaming"],
            // The configured size is a floor: node-llama-cpp rounds it up to a multiple of 256.
            contextLength: Math.min(
              await trainContextSize(path),
              managerOptions.contextSize ?? Number.POSITIVE_INFINITY,
            ),
            loaded: manager.isLoaded(id),
          }),
        ),
      );
    },
    languageModel(modelId) {
      if (!files.some((file) => file.id === modelId)) {
        throw new NoSuchModelError(`${LLAMA_CPP_PROVIDER_ID}/${modelId}`);
      }
      return createLlamaCppLanguageModel({ modelId, manager });
    },
    close: () => manager.close(),
  };
}
