import type { UsageRecord, UsageStore, UsageSummaryRow } from "@noa/access";

/** A UsageStore in memory for server tests: records are kept, so tests can assert what was written. */
export function createInMemoryUsageStore(): UsageStore & { records: UsageRecord[] } {
  const records: UsageRecord[] = [];
  const ids = new Set<string>();
  return {
    records,
    async insertMany(batch) {
      // Idempotent by id, like the database's primary key (the ledger retries batches).
      for (const record of batch) {
        if (ids.has(record.id)) continue;
        ids.add(record.id);
        records.push(record);
      }
    },
    async summarize({ tenant, from, to }) {
      const rows = new Map<string, UsageSummaryRow>();
      for (const record of records) {
        if (record.tenant !== tenant || record.createdAt < from || record.createdAt >= to) continue;
        const day = record.createdAt.toISOString().slice(0, 10);
        const key = `${day}|${record.apiKeyId}|${record.modelRequested}`;
        const row = rows.get(key) ?? {
          day,
          apiKeyId: record.apiKeyId,
          model: record.modelRequested,
          requests: 0,
          promptTokens: 0,
          completionTokens: 0,
          costUsd: 0,
          cachedRequests: 0,
        };
        row.requests++;
        row.promptTokens += record.promptTokens;
        row.completionTokens += record.completionTokens;
        row.costUsd += record.costUsd;
        if (record.cached) row.cachedRequests++;
        rows.set(key, row);
      }
      return [...rows.values()].sort((a, b) => a.day.localeCompare(b.day));
    },
  };
}
