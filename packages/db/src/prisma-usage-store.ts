import type { UsageStore, UsageSummaryRow } from "@noa/access";
import type { PrismaClient } from "./generated/prisma/client.js";

// 16 columns a row: 1 000 rows stay far below PostgreSQL's 65 535 bind parameters per statement.
const rowsPerStatement = 1_000;

interface SummaryRow {
  day: string;
  api_key_id: string | null;
  model: string;
  requests: bigint;
  prompt_tokens: bigint;
  completion_tokens: bigint;
  cost_usd: number;
  cached_requests: bigint;
}

/**
 * {@link UsageStore} over Prisma (`usage_records`). `insertMany` skips ids already stored, so a batch
 * retried after an ambiguous failure counts nothing twice (a large batch is written in several
 * statements, each idempotent on its own). Costs are stored as exact decimals and summed in SQL.
 */
export function createPrismaUsageStore(prisma: PrismaClient): UsageStore {
  return {
    async insertMany(records) {
      for (let start = 0; start < records.length; start += rowsPerStatement) {
        await prisma.usageRecord.createMany({
          data: records.slice(start, start + rowsPerStatement).map((record) => ({
            id: record.id,
            apiKeyId: record.apiKeyId ?? null,
            tenant: record.tenant,
            modelRequested: record.modelRequested,
            provider: record.provider ?? null,
            modelServed: record.modelServed ?? null,
            promptTokens: record.promptTokens,
            completionTokens: record.completionTokens,
            costUsd: record.costUsd,
            cached: record.cached,
            cacheTier: record.cacheTier ?? null,
            status: record.status,
            errorCode: record.errorCode ?? null,
            latencyMs: record.latencyMs,
            correlationId: record.correlationId,
            createdAt: record.createdAt,
          })),
          skipDuplicates: true,
        });
      }
    },

    async summarize({ tenant, from, to }) {
      // created_at is a UTC timestamp without zone, so its date is the UTC day.
      const rows = await prisma.$queryRaw<SummaryRow[]>`
        SELECT to_char(date_trunc('day', created_at), 'YYYY-MM-DD') AS day,
               api_key_id,
               model_requested AS model,
               count(*) AS requests,
               sum(prompt_tokens) AS prompt_tokens,
               sum(completion_tokens) AS completion_tokens,
               sum(cost_usd)::float8 AS cost_usd,
               count(*) FILTER (WHERE cached) AS cached_requests
          FROM usage_records
         WHERE tenant = ${tenant} AND created_at >= ${from} AND created_at < ${to}
         GROUP BY 1, 2, 3
         ORDER BY 1, 2 NULLS FIRST, 3`;
      return rows.map(
        (row): UsageSummaryRow => ({
          day: row.day,
          apiKeyId: row.api_key_id ?? undefined,
          model: row.model,
          requests: Number(row.requests),
          promptTokens: Number(row.prompt_tokens),
          completionTokens: Number(row.completion_tokens),
          costUsd: row.cost_usd,
          cachedRequests: Number(row.cached_requests),
        }),
      );
    },
  };
}
