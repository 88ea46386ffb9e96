import { type CallOptions, type Client, createClient, type Transport } from "@connectrpc/connect";
import { InferenceService, JobService, ModelService, UsageService } from "@noa/proto";

/** The rpc-server services the procedures call, over one Connect transport (gRPC or Connect, chosen in main.ts). */
export interface RpcClients {
  models: Client<typeof ModelService>;
  inference: Client<typeof InferenceService>;
  jobs: Client<typeof JobService>;
  usage: Client<typeof UsageService>;
}

/** Clients for every service the BFF uses; credentials travel per call (CallOptions.headers), never in the transport. */
export function createRpcClients(transport: Transport): RpcClients {
  return {
    models: createClient(ModelService, transport),
    inference: createClient(InferenceService, transport),
    jobs: createClient(JobService, transport),
    usage: createClient(UsageService, transport),
  };
}

export type { CallOptions };
