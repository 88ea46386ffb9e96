import { create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { AccessError, requireScope, type UsageStore, type UsageSummaryRow } from "@noa/access";
import { GetUsageSummaryResponseSchema, type UsageService, UsageSummaryRowSchema } from "@noa/proto";
import { principalOf } from "../request-context.js";

const day = 24 * 60 * 60 * 1000;
const maxRange = 366 * day;

/** UsageService over the usage ledger: the caller's own tenant; another tenant's only with the admin scope. */
export function createUsageRpcService({
  usage,
  now = Date.now,
}: {
  usage: Pick<UsageStore, "summarize">;
  now?: () => number;
}): ServiceImpl<typeof UsageService> {
  return {
    async getUsageSummary(request, context) {
      const principal = principalOf(context.values);
      const tenant = request.tenant || principal.tenant;
      if (tenant !== principal.tenant) requireScope(principal, "admin");
      const to = request.endTime ? timestampDate(request.endTime) : new Date(now());
      const from = request.startTime ? timestampDate(request.startTime) : new Date(to.getTime() - 30 * day);
      if (from >= to) throw new AccessError("invalid-argument", "start_time must be before end_time");
      if (to.getTime() - from.getTime() > maxRange) {
        throw new AccessError(
          "invalid-argument",
          "the range from start_time to end_time may span at most 366 days",
        );
      }
      const rows = await usage.summarize({ tenant, from, to });
      const total: UsageSummaryRow = {
        day: "",
        apiKeyId: undefined,
        model: "",
        requests: 0,
        promptTokens: 0,
        completionTokens: 0,
        costUsd: 0,
        cachedRequests: 0,
      };
      for (const row of rows) {
        total.requests += row.requests;
        total.promptTokens += row.promptTokens;
        total.completionTokens += row.completionTokens;
        total.costUsd += row.costUsd;
        total.cachedRequests += row.cachedRequests;
      }
      return create(GetUsageSummaryResponseSchema, { rows: rows.map(toProtoRow), total: toProtoRow(total) });
    },
  };
}

function toProtoRow(row: UsageSummaryRow) {
  return create(UsageSummaryRowSchema, {
    day: row.day,
    apiKeyId: row.apiKeyId ?? "",
    model: row.model,
    requests: BigInt(row.requests),
    promptTokens: BigInt(row.promptTokens),
    completionTokens: BigInt(row.completionTokens),
    costUsd: row.costUsd,
    cachedRequests: BigInt(row.cachedRequests),
  });
}
