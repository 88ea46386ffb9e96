import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { hasModel, requireModel, requireScope } from "@noa/access";
import {
  Capability,
  CircuitState,
  GetModelResponseSchema,
  ListModelsResponseSchema,
  type Model,
  ModelSchema,
  type ModelService,
} from "@noa/proto";
import type { CircuitState as BreakerState, ModelCapability, ModelInfo, ModelRegistry } from "@noa/providers";
import { principalOf } from "../request-context.js";

const capabilities: Record<ModelCapability, Capability> = {
  chat: Capability.CHAT,
  completion: Capability.COMPLETION,
  streaming: Capability.STREAMING,
  embeddings: Capability.EMBEDDINGS,
};

const circuitStates: Record<BreakerState, CircuitState> = {
  closed: CircuitState.CLOSED,
  open: CircuitState.OPEN,
  "half-open": CircuitState.HALF_OPEN,
};

/** ModelService over the model router; needs the `models:read` scope and lists only the models the caller may use. */
export function createModelService({
  registry,
}: {
  registry: ModelRegistry;
}): ServiceImpl<typeof ModelService> {
  return {
    async listModels(_request, context) {
      const principal = principalOf(context.values);
      requireScope(principal, "models:read");
      const models = (await registry.listModels()).filter((model) => hasModel(principal, model.id));
      return create(ListModelsResponseSchema, { models: models.map(toProtoModel) });
    },
    async getModel(request, context) {
      const principal = principalOf(context.values);
      requireScope(principal, "models:read");
      if (request.id.trim() === "") {
        throw new ConnectError("id is required: set it to a model id from ListModels", Code.InvalidArgument);
      }
      requireModel(principal, request.id.trim());
      return create(GetModelResponseSchema, {
        model: toProtoModel(await registry.getModel(request.id.trim())),
      });
    },
  };
}

function toProtoModel(model: ModelInfo): Model {
  return create(ModelSchema, {
    id: model.id,
    provider: model.provider,
    capabilities: model.capabilities.map((capability) => capabilities[capability]),
    contextLength: model.contextLength,
    loaded: model.loaded,
    targets: model.targets ?? [],
    circuitState: model.circuit ? circuitStates[model.circuit.state] : CircuitState.UNSPECIFIED,
    circuitRetryTime:
      model.circuit?.retryAt === undefined ? undefined : timestampFromMs(model.circuit.retryAt),
  });
}
