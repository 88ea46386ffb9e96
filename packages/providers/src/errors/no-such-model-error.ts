/** No provider serves the requested model id; maps to NOT_FOUND. The message is safe to show. */
export class NoSuchModelError extends Error {
  readonly modelId: string;

  constructor(modelId: string) {
    super(`model "${modelId}" does not exist; list the available models with ModelService.ListModels`);
    this.name = "NoSuchModelError";
    this.modelId = modelId;
  }
}
