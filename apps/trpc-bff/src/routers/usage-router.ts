import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { z } from "zod";
import { protectedProcedure, router } from "../trpc.js";
import { toWebUsageSummary, type WebUsageSummary } from "../web-types/web-usage.js";

const dateTime = z.iso.datetime({ offset: true, message: "an ISO 8601 date-time" });

/** UsageService: the caller's tenant's requests, tokens and cost. */
export const usageRouter = router({
  summary: protectedProcedure
    .input(
      z
        .object({ start: dateTime.optional(), end: dateTime.optional() })
        .refine((range) => !range.start || !range.end || Date.parse(range.end) > Date.parse(range.start), {
          path: ["end"],
          message: "must be after start",
        })
        .default({}),
    )
    .query(async ({ ctx, input, signal }): Promise<WebUsageSummary> => {
      const response = await ctx.call(
        ctx.session.apiKey,
        (options) =>
          ctx.rpc.usage.getUsageSummary(
            {
              startTime: input.start ? timestampFromDate(new Date(input.start)) : undefined,
              endTime: input.end ? timestampFromDate(new Date(input.end)) : undefined,
            },
            options,
          ),
        { signal },
      );
      return toWebUsageSummary(response);
    }),
});
