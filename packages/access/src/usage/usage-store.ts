/** One request in the ledger: completed, failed, cancelled or partially streamed (tokens actually delivered). */
export interface UsageRecord {
  /** A UUID made when the request starts, so a retried batch write never counts a request twice. */
  id: string;
  apiKeyId: string | undefined;
  tenant: string;
  /** The model as requested (id or alias). */
  modelRequested: string;
  /** Provider and model that actually served; undefined when none did. */
  provider: string | undefined;
  modelServed: string | undefined;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  cached: boolean;
  /** Which cache tier answered (`memory`, `redis`, `database`), when cached. */
  cacheTier: string | undefined;
  status: "ok" | "error" | "cancelled";
  /** The Connect code name for errors (e.g. `unavailable`). */
  errorCode: string | undefined;
  latencyMs: number;
  correlationId: string;
  createdAt: Date;
}

/** Totals of one key's use of one model on one UTC day. */
export interface UsageSummaryRow {
  /** `YYYY-MM-DD`. */
  day: string;
  apiKeyId: string | undefined;
  model: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  cachedRequests: number;
}

/** Persistence of the ledger; implemented over Prisma in @noa/db. */
export interface UsageStore {
  /** Writes records; a record whose id already exists is skipped (idempotent retries). */
  insertMany(records: UsageRecord[]): Promise<void>;
  /** One tenant's totals per day, key and model in [from, to), oldest day first. */
  summarize(query: { tenant: string; from: Date; to: Date }): Promise<UsageSummaryRow[]>;
}
