import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Capability, CircuitState, type Model } from "@noa/proto";

/** What a model can do, as web clients spell it. */
export type WebCapability = "chat" | "completion" | "streaming" | "embeddings";

/** A model as web clients see it (ModelService's Model without Protobuf). */
export interface WebModel {
  id: string;
  provider: string;
  capabilities: WebCapability[];
  /** Largest context in tokens; 0 when unknown. */
  contextLength: number;
  loaded: boolean;
  /** For a route alias: its targets in fallback order. */
  targets: string[];
  /** The target's circuit breaker, once it has been called. */
  circuit: { state: "closed" | "open" | "half-open"; retryAt: string | null } | null;
}

const capabilities: Partial<Record<Capability, WebCapability>> = {
  [Capability.CHAT]: "chat",
  [Capability.COMPLETION]: "completion",
  [Capability.STREAMING]: "streaming",
  [Capability.EMBEDDINGS]: "embeddings",
};

const circuitStates = {
  [CircuitState.CLOSED]: "closed",
  [CircuitState.OPEN]: "open",
  [CircuitState.HALF_OPEN]: "half-open",
} as const;

/** Model → WebModel. */
export function toWebModel(model: Model): WebModel {
  const state =
    model.circuitState === CircuitState.UNSPECIFIED ? undefined : circuitStates[model.circuitState];
  return {
    id: model.id,
    provider: model.provider,
    capabilities: model.capabilities.flatMap((capability) => capabilities[capability] ?? []),
    contextLength: model.contextLength,
    loaded: model.loaded,
    targets: [...model.targets],
    circuit: state
      ? {
          state,
          retryAt: model.circuitRetryTime ? timestampDate(model.circuitRetryTime).toISOString() : null,
        }
      : null,
  };
}
