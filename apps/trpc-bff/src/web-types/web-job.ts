import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { ExportFormat, type Job, JobPriority, JobState, NotificationChannel } from "@noa/proto";
import { toWebCompletion, toWebRole, type WebCompletion, type WebRole } from "./web-completion.js";

export type WebJobState =
  | "queued"
  | "active"
  | "retrying"
  | "completed"
  | "failed"
  | "dead-lettered"
  | "cancelled"
  | "unknown";
export type WebJobPriority = "high" | "medium" | "low";
export type WebNotificationChannel = "webhook" | "email" | "slack";
export type WebExportFormat = "jsonl" | "csv";

/** What a job does, as submitted. */
export type WebJobSpec =
  | {
      kind: "inference";
      model: string;
      messages: Array<{ role: WebRole; content: string }>;
      maxTokens: number | null;
      temperature: number | null;
    }
  | {
      kind: "notification";
      channel: WebNotificationChannel | "unknown";
      to: string;
      subject: string;
      body: string;
    }
  | { kind: "usage-export"; start: string | null; end: string | null; format: WebExportFormat }
  | { kind: "unknown" };

/** What a completed job produced. */
export type WebJobResult =
  | ({ kind: "inference" } & WebCompletion)
  | { kind: "notification"; channel: WebNotificationChannel | "unknown"; statusCode: number }
  | { kind: "usage-export"; format: WebExportFormat; recordCount: number; content: string };

/** A job as web clients see it (JobService's Job without Protobuf). */
export interface WebJob {
  id: string;
  spec: WebJobSpec;
  priority: WebJobPriority;
  state: WebJobState;
  /** Whether the state is final (completed, failed, dead-lettered, cancelled). */
  final: boolean;
  /** Progress of the running attempt in [0, 1]. */
  progress: number;
  attempts: number;
  maxAttempts: number;
  result: WebJobResult | null;
  error: { code: string; message: string; retryable: boolean } | null;
  nextAttemptAt: string | null;
  callbackUrl: string | null;
  idempotencyKey: string | null;
  webhookDeliveries: Array<{
    attempt: number;
    statusCode: number;
    error: string | null;
    time: string | null;
    delivered: boolean;
  }>;
  createdAt: string | null;
  updatedAt: string | null;
  finishedAt: string | null;
  correlationId: string;
}

export const jobStates: Record<Exclude<WebJobState, "unknown">, JobState> = {
  queued: JobState.QUEUED,
  active: JobState.ACTIVE,
  retrying: JobState.RETRYING,
  completed: JobState.COMPLETED,
  failed: JobState.FAILED,
  "dead-lettered": JobState.DEAD_LETTERED,
  cancelled: JobState.CANCELLED,
};

export const jobPriorities: Record<WebJobPriority, JobPriority> = {
  high: JobPriority.HIGH,
  medium: JobPriority.MEDIUM,
  low: JobPriority.LOW,
};

export const notificationChannels: Record<WebNotificationChannel, NotificationChannel> = {
  webhook: NotificationChannel.WEBHOOK,
  email: NotificationChannel.EMAIL,
  slack: NotificationChannel.SLACK,
};

const finalStates: ReadonlySet<WebJobState> = new Set(["completed", "failed", "dead-lettered", "cancelled"]);

function nameOf<T extends string>(table: Record<T, number>, value: number): T | undefined {
  return (Object.keys(table) as T[]).find((name) => table[name] === value);
}

function iso(timestamp: Timestamp | undefined): string | null {
  return timestamp ? timestampDate(timestamp).toISOString() : null;
}

function formatOf(format: ExportFormat): WebExportFormat {
  return format === ExportFormat.CSV ? "csv" : "jsonl";
}

function toWebSpec(job: Job): WebJobSpec {
  const kind = job.spec?.kind;
  switch (kind?.case) {
    case "inference":
      return {
        kind: "inference",
        model: kind.value.model,
        messages: kind.value.messages.map((message) => ({
          role: toWebRole(message.role),
          content: message.content,
        })),
        maxTokens: kind.value.maxTokens ?? null,
        temperature: kind.value.temperature ?? null,
      };
    case "notification":
      return {
        kind: "notification",
        channel: nameOf(notificationChannels, kind.value.channel) ?? "unknown",
        to: kind.value.to,
        subject: kind.value.subject,
        body: kind.value.body,
      };
    case "usageExport":
      return {
        kind: "usage-export",
        start: iso(kind.value.startTime),
        end: iso(kind.value.endTime),
        format: formatOf(kind.value.format),
      };
    default:
      return { kind: "unknown" };
  }
}

function toWebResult(job: Job): WebJobResult | null {
  const kind = job.result?.kind;
  switch (kind?.case) {
    case "inference":
      return { kind: "inference", ...toWebCompletion(kind.value) };
    case "notification":
      return {
        kind: "notification",
        channel: nameOf(notificationChannels, kind.value.channel) ?? "unknown",
        statusCode: kind.value.statusCode,
      };
    case "usageExport":
      return {
        kind: "usage-export",
        format: formatOf(kind.value.format),
        recordCount: kind.value.recordCount,
        content: kind.value.content,
      };
    default:
      return null;
  }
}

/** Job → WebJob. */
export function toWebJob(job: Job): WebJob {
  const state = nameOf(jobStates, job.state) ?? "unknown";
  return {
    id: job.id,
    spec: toWebSpec(job),
    priority: nameOf(jobPriorities, job.priority) ?? "medium",
    state,
    final: finalStates.has(state),
    progress: job.progress,
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    result: toWebResult(job),
    error: job.error
      ? { code: job.error.code, message: job.error.message, retryable: job.error.retryable }
      : null,
    nextAttemptAt: iso(job.nextAttemptTime),
    callbackUrl: job.callbackUrl || null,
    idempotencyKey: job.idempotencyKey || null,
    webhookDeliveries: job.webhookDeliveries.map((delivery) => ({
      attempt: delivery.attempt,
      statusCode: delivery.statusCode,
      error: delivery.error || null,
      time: iso(delivery.time),
      delivered: delivery.delivered,
    })),
    createdAt: iso(job.createTime),
    updatedAt: iso(job.updateTime),
    finishedAt: iso(job.finishTime),
    correlationId: job.correlationId,
  };
}
