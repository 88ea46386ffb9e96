import type { KeyLimits } from "@noa/access";
/** Where a job is in its life (proto JobState, lower case as the database stores it). */
export type JobStateName =
  | "queued"
  | "active"
  | "retrying"
  | "completed"
  | "failed"
  | "dead_lettered"
  | "cancelled";

/** States a job leaves only through RetryJob (dead_lettered, failed) or never. */
export const finalStates: readonly JobStateName[] = ["completed", "failed", "dead_lettered", "cancelled"];

/** Queue order (proto JobPriority). */
export type JobPriorityName = "high" | "medium" | "low";

/** The seed design's job types, one per JobSpec kind. */
export type JobType = "ai-inference" | "notification" | "data-processing";

/** JSON as the store keeps it (the proto's canonical JSON form of JobSpec and JobResult). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Why an attempt or a job failed; `message` is safe to show to the client. */
export interface JobFailure {
  /** A Connect code name in upper case, e.g. `INVALID_ARGUMENT`, `UNAVAILABLE`. */
  code: string;
  message: string;
  retryable: boolean;
}

/** One attempt to call a job's callback URL. */
export interface WebhookDeliveryRecord {
  attempt: number;
  /** 0 when no answer came. */
  statusCode: number;
  error: string | undefined;
  delivered: boolean;
  at: Date;
}

/** The submitter's rate-limit key (`key:<id>` or `jwt:<subject>`) and its per-key limits at submission. */
export interface JobTokenBudget {
  key: string;
  limits: KeyLimits;
}

/** A job as stored: the system of record (the queue carries only its id). */
export interface JobRecord {
  id: string;
  tenant: string;
  /** The submitting API key; undefined for JWT callers. */
  apiKeyId: string | undefined;
  /** Whose token budget the tokens an inference job uses are charged to (none for jobs stored before it). */
  tokenBudget: JobTokenBudget | undefined;
  type: JobType;
  priority: JobPriorityName;
  state: JobStateName;
  /** proto JobSpec, canonical JSON. */
  spec: JsonValue;
  /** proto JobResult, canonical JSON; set once completed. */
  result: JsonValue | undefined;
  error: JobFailure | undefined;
  /** In [0, 1]. */
  progress: number;
  attempts: number;
  maxAttempts: number;
  nextAttemptAt: Date | undefined;
  idempotencyKey: string | undefined;
  callbackUrl: string | undefined;
  correlationId: string;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | undefined;
  /** Oldest first. */
  deliveries: WebhookDeliveryRecord[];
}
