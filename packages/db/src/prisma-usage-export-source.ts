import type { UsageRecord } from "@noa/access";
import type { UsageExportSource } from "@noa/jobs";
import type { PrismaClient } from "./generated/prisma/client.js";

/** {@link UsageExportSource} over Prisma (`usage_records`, on its (tenant, created_at) index). */
export function createPrismaUsageExportSource(prisma: PrismaClient): UsageExportSource {
  return {
    async list({ tenant, from, to, limit }) {
      const rows = await prisma.usageRecord.findMany({
        where: { tenant, createdAt: { gte: from, lt: to } },
        orderBy: [{ createdAt: "asc" }, { id: "asc" }],
        take: limit,
      });
      return rows.map(
        (row): UsageRecord => ({
          id: row.id,
          apiKeyId: row.apiKeyId ?? undefined,
          tenant: row.tenant,
          modelRequested: row.modelRequested,
          provider: row.provider ?? undefined,
          modelServed: row.modelServed ?? undefined,
          promptTokens: row.promptTokens,
          completionTokens: row.completionTokens,
          costUsd: row.costUsd.toNumber(),
          cached: row.cached,
          cacheTier: row.cacheTier ?? undefined,
          status: row.status,
          errorCode: row.errorCode ?? undefined,
          latencyMs: row.latencyMs,
          correlationId: row.correlationId,
          createdAt: row.createdAt,
        }),
      );
    },
  };
}
