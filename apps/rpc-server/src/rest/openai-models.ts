import { hasModel, type Principal, requireModel, requireScope } from "@noa/access";
import type { ModelInfo, ModelRegistry } from "@noa/providers";

/** OpenAI's model object (https://platform.openai.com/docs/api-reference/models/object). */
export interface OpenAIModel {
  id: string;
  object: "model";
  /** Unix seconds; NOA does not know when a model was made, so it is when this server started. */
  created: number;
  /** The provider id (`openai`, `llama-cpp`…); `router` for an alias. */
  owned_by: string;
}

function toOpenAIModel(model: ModelInfo, created: number): OpenAIModel {
  return { id: model.id, object: "model", created, owned_by: model.provider };
}

/** `GET /v1/models`: the models and aliases the router serves that the caller may use; needs `models:read`. */
export async function listOpenAIModels(
  registry: ModelRegistry,
  principal: Principal,
  created: number,
): Promise<{ object: "list"; data: OpenAIModel[] }> {
  requireScope(principal, "models:read");
  const models = (await registry.listModels()).filter((model) => hasModel(principal, model.id));
  return { object: "list", data: models.map((model) => toOpenAIModel(model, created)) };
}

/** `GET /v1/models/{id}`, where the id holds a `/` (sent as is or encoded as %2F); NoSuchModelError → 404. */
export async function getOpenAIModel(
  registry: ModelRegistry,
  principal: Principal,
  id: string,
  created: number,
): Promise<OpenAIModel> {
  requireScope(principal, "models:read");
  requireModel(principal, id);
  return toOpenAIModel(await registry.getModel(id), created);
}
