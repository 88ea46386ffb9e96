import type { GetUsageSummaryResponse, UsageSummaryRow } from "@noa/proto";

/** One key's use of one model on one UTC day (numbers, not Protobuf's 64-bit integers). */
export interface WebUsageRow {
  day: string;
  apiKeyId: string;
  model: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  cachedRequests: number;
}

/** usage.summary's answer: rows oldest day first, and their sum. */
export interface WebUsageSummary {
  rows: WebUsageRow[];
  total: WebUsageRow;
}

function toWebRow(row: UsageSummaryRow | undefined): WebUsageRow {
  return {
    day: row?.day ?? "",
    apiKeyId: row?.apiKeyId ?? "",
    model: row?.model ?? "",
    requests: Number(row?.requests ?? 0n),
    promptTokens: Number(row?.promptTokens ?? 0n),
    completionTokens: Number(row?.completionTokens ?? 0n),
    costUsd: row?.costUsd ?? 0,
    cachedRequests: Number(row?.cachedRequests ?? 0n),
  };
}

/** GetUsageSummaryResponse → WebUsageSummary. */
export function toWebUsageSummary(response: GetUsageSummaryResponse): WebUsageSummary {
  return { rows: response.rows.map(toWebRow), total: toWebRow(response.total) };
}
