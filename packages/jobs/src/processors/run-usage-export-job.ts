import { create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { UsageRecord } from "@noa/access";
import { ExportFormat, type JobResult, JobResultSchema, type UsageExportJob } from "@noa/proto";
import type { JobRecord } from "../job-record.js";
import { JobAttemptError } from "./job-attempt-error.js";

/** Reads a tenant's usage records; implemented over Prisma in @noa/db (createPrismaUsageExportSource). */
export interface UsageExportSource {
  /** Records of `tenant` created in [from, to), oldest first, at most `limit`. */
  list(query: { tenant: string; from: Date; to: Date; limit: number }): Promise<UsageRecord[]>;
}

/** Most records one export holds: the file travels inside every Job message (GetJob, WatchJob, callbacks), which gRPC clients cap at 4 MiB by default. */
export const maxExportRecords = 10_000;

const columns = [
  "id",
  "createdAt",
  "apiKeyId",
  "modelRequested",
  "provider",
  "modelServed",
  "promptTokens",
  "completionTokens",
  "costUsd",
  "cached",
  "cacheTier",
  "status",
  "errorCode",
  "latencyMs",
  "correlationId",
] as const satisfies ReadonlyArray<keyof UsageRecord>;

/** `data-processing` export: the job's tenant's usage records in [start_time, end_time) as JSONL or CSV. */
export async function runUsageExportJob(options: {
  job: JobRecord;
  request: UsageExportJob;
  source: UsageExportSource;
}): Promise<JobResult> {
  const { job, request, source } = options;
  if (!request.startTime || !request.endTime) {
    throw new JobAttemptError({
      code: "INVALID_ARGUMENT",
      message: "spec.usage_export needs start_time and end_time",
      retryable: false,
    });
  }
  const records = await source.list({
    tenant: job.tenant,
    from: timestampDate(request.startTime),
    to: timestampDate(request.endTime),
    limit: maxExportRecords + 1,
  });
  if (records.length > maxExportRecords) {
    throw new JobAttemptError({
      code: "INVALID_ARGUMENT",
      message: `the range holds more than ${maxExportRecords} usage records; export a shorter range`,
      retryable: false,
    });
  }
  const format = request.format === ExportFormat.CSV ? ExportFormat.CSV : ExportFormat.JSONL;
  const rows = records.map((record) => columns.map((column) => [column, cell(record[column])] as const));
  const lines =
    format === ExportFormat.CSV
      ? [columns.join(","), ...rows.map((row) => row.map(([, value]) => csvField(value)).join(","))]
      : rows.map((row) => JSON.stringify(Object.fromEntries(row)));
  const content = lines.map((line) => `${line}\n`).join("");
  return create(JobResultSchema, {
    kind: { case: "usageExport", value: { format, recordCount: records.length, content } },
  });
}

function cell(value: unknown): string | number | boolean | null {
  if (value === undefined || value === null) return null;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "number" || typeof value === "boolean") return value;
  return String(value);
}

/** RFC 4180: quote fields holding a comma, quote or line break; double inner quotes. */
function csvField(value: string | number | boolean | null): string {
  if (value === null) return "";
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
