import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { GetUsageSummaryResponseSchema, type UsageSummaryRow } from "@noa/proto";
import { type Command, InvalidArgumentError } from "commander";
import type { CliContext } from "../cli-context.js";
import { formatTable } from "../format-table.js";
import { printJson } from "../print-json.js";

function parseDate(raw: string): Date {
  const date = new Date(raw);
  if (Number.isNaN(date.getTime())) {
    throw new InvalidArgumentError("expected a date such as 2026-11-01 or 2026-11-01T12:00:00Z.");
  }
  return date;
}

/** `noa usage`: tokens and cost per day, key and model, from the server's usage ledger. */
export function registerUsage(program: Command, context: CliContext): void {
  program
    .command("usage")
    .description("tokens and cost per day, key and model (your tenant; admins may name another)")
    .option("--from <date>", "start of the range, inclusive (default: 30 days before --to)", parseDate)
    .option("--to <date>", "end of the range, exclusive (default: now)", parseDate)
    .option("--tenant <tenant>", "another tenant's usage (admin keys only)")
    .action(async (options: { from?: Date; to?: Date; tenant?: string }) => {
      const response = await context.client().usage.getUsageSummary({
        startTime: options.from && timestampFromDate(options.from),
        endTime: options.to && timestampFromDate(options.to),
        tenant: options.tenant ?? "",
      });
      if (context.options().json) return printJson(context.stdout, GetUsageSummaryResponseSchema, response);
      const row = (r: UsageSummaryRow, first: string[]) => [
        ...first,
        String(r.requests),
        String(r.promptTokens),
        String(r.completionTokens),
        `$${r.costUsd.toFixed(6)}`,
        String(r.cachedRequests),
      ];
      const header = ["DAY", "KEY", "MODEL", "REQUESTS", "PROMPT", "COMPLETION", "COST", "CACHED"];
      const rows = response.rows.map((r) => row(r, [r.day, r.apiKeyId || "(jwt)", r.model]));
      if (response.total) rows.push(row(response.total, ["total", "", ""]));
      context.stdout.write(formatTable(header, rows));
    });
}
