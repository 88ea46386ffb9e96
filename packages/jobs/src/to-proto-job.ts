import { create, fromJson, type JsonValue as ProtoJson, toJson } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type Job,
  JobPriority,
  JobResultSchema,
  JobSchema,
  JobSpecSchema,
  JobState,
  WebhookDeliverySchema,
} from "@noa/proto";
import type { JobPriorityName, JobRecord, JobStateName } from "./job-record.js";

/** Store state → the contract's enum. */
export const toProtoState: Record<JobStateName, JobState> = {
  queued: JobState.QUEUED,
  active: JobState.ACTIVE,
  retrying: JobState.RETRYING,
  completed: JobState.COMPLETED,
  failed: JobState.FAILED,
  dead_lettered: JobState.DEAD_LETTERED,
  cancelled: JobState.CANCELLED,
};

/** The contract's state enum → the store's (UNSPECIFIED: none). */
export function fromProtoState(state: JobState): JobStateName | undefined {
  return (Object.entries(toProtoState) as Array<[JobStateName, JobState]>).find(
    ([, value]) => value === state,
  )?.[0];
}

/** Store priority → the contract's enum. */
export const toProtoPriority: Record<JobPriorityName, JobPriority> = {
  high: JobPriority.HIGH,
  medium: JobPriority.MEDIUM,
  low: JobPriority.LOW,
};

/** The contract's priority → the store's (UNSPECIFIED means medium). */
export function fromProtoPriority(priority: JobPriority): JobPriorityName {
  if (priority === JobPriority.HIGH) return "high";
  if (priority === JobPriority.LOW) return "low";
  return "medium";
}

/** A stored job as the contract's Job message (GetJob, WatchJob, webhooks all send this). */
export function toProtoJob(record: JobRecord): Job {
  return create(JobSchema, {
    id: record.id,
    spec: fromJson(JobSpecSchema, record.spec as ProtoJson),
    priority: toProtoPriority[record.priority],
    state: toProtoState[record.state],
    progress: record.progress,
    attempts: record.attempts,
    maxAttempts: record.maxAttempts,
    result: record.result === undefined ? undefined : fromJson(JobResultSchema, record.result as ProtoJson),
    error: record.error,
    nextAttemptTime: record.nextAttemptAt && timestampFromDate(record.nextAttemptAt),
    callbackUrl: record.callbackUrl ?? "",
    idempotencyKey: record.idempotencyKey ?? "",
    webhookDeliveries: record.deliveries.map((delivery) =>
      create(WebhookDeliverySchema, {
        attempt: delivery.attempt,
        statusCode: delivery.statusCode,
        error: delivery.error ?? "",
        time: timestampFromDate(delivery.at),
        delivered: delivery.delivered,
      }),
    ),
    createTime: timestampFromDate(record.createdAt),
    updateTime: timestampFromDate(record.updatedAt),
    finishTime: record.finishedAt && timestampFromDate(record.finishedAt),
    correlationId: record.correlationId,
  });
}

/** A stored job as canonical proto JSON (the REST face and webhook bodies). */
export function toJobJson(record: JobRecord): ProtoJson {
  return toJson(JobSchema, toProtoJob(record));
}
