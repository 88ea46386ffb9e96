import { create } from "@bufbuild/protobuf";
import { FinishReason as ProtoFinishReason, type Usage as ProtoUsage, UsageSchema } from "@noa/proto";
import type { FinishReason, Usage } from "@noa/providers";

const finishReasons: Record<FinishReason, ProtoFinishReason> = {
  stop: ProtoFinishReason.STOP,
  length: ProtoFinishReason.LENGTH,
  "content-filter": ProtoFinishReason.CONTENT_FILTER,
  cancelled: ProtoFinishReason.CANCELLED,
};

/** Provider finish reason → the contract's enum. */
export function toProtoFinishReason(reason: FinishReason): ProtoFinishReason {
  return finishReasons[reason];
}

/** Provider usage → the contract's Usage, with the total filled in. */
export function toProtoUsage(usage: Usage): ProtoUsage {
  return create(UsageSchema, {
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
    totalTokens: usage.promptTokens + usage.completionTokens,
  });
}
