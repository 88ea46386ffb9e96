export { type BackoffPolicy, backoffDelay, defaultJobBackoff } from "./backoff-delay.js";
export {
  createJobService,
  type JobService,
  type JobServiceDeps,
  type SubmitJobInput,
} from "./create-job-service.js";
export { createJobWorkers, type JobWorkerOptions, type JobWorkers } from "./create-job-workers.js";
export {
  createRedisOutageLog,
  type RedisConnectionEvents,
  type RedisOutageLog,
} from "./create-redis-outage-log.js";
export { JobError, type JobErrorCode } from "./job-error.js";
export { createJobEvents, type JobEvent, type JobEvents } from "./job-events.js";
export type { JobObserver, JobOutcome } from "./job-observer.js";
export {
  bullPriority,
  createJobQueues,
  type DeadLetterData,
  type JobQueues,
  type QueuedJobData,
  queueNames,
} from "./job-queues.js";
export {
  finalStates,
  type JobFailure,
  type JobPriorityName,
  type JobRecord,
  type JobStateName,
  type JobTokenBudget,
  type JobType,
  type JsonValue,
  type WebhookDeliveryRecord,
} from "./job-record.js";
export type { JobPatch, JobStore, JobUpdateCondition, NewJob } from "./job-store.js";
export type { Logger } from "./logger.js";
export { flag, integer, type JobsConfig, parseJobsConfig } from "./parse-jobs-config.js";
export {
  abortReasons,
  createJobProcessor,
  type JobProcessorDeps,
  RetryLaterError,
} from "./processors/create-job-processor.js";
export { createWebhookProcessor } from "./processors/create-webhook-processor.js";
export { classifyJobError, JobAttemptError } from "./processors/job-attempt-error.js";
export type { InferenceAccounting } from "./processors/run-inference-job.js";
export type { NotificationDeps, NotificationSender } from "./processors/run-notification-job.js";
export { maxExportRecords, type UsageExportSource } from "./processors/run-usage-export-job.js";
export { redisAddressOf } from "./redis-address-of.js";
export {
  type StrandedJobSweeper,
  type StrandedJobSweeperOptions,
  startStrandedJobSweeper,
} from "./start-stranded-job-sweeper.js";
export {
  fromProtoPriority,
  fromProtoState,
  toJobJson,
  toProtoJob,
  toProtoPriority,
  toProtoState,
} from "./to-proto-job.js";
export { enqueueWebhook } from "./webhooks/enqueue-webhook.js";
export { postWebhook, type WebhookAttempt } from "./webhooks/post-webhook.js";
export {
  type CallbackPolicy,
  checkCallbackUrl,
  forbiddenReason,
  guardedLookup,
  type ResolveHost,
  resolveWithDns,
} from "./webhooks/ssrf-guard.js";
export { signatureHeader, signWebhook, verifyWebhook } from "./webhooks/webhook-signature.js";
