import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ExportFormat, type JobSpecSchema } from "@noa/proto";
import { jobIdInput, listJobsInput, type SubmitJobInput, submitJobInput } from "../inputs/job-input.js";
import { toCompleteRequest } from "../inputs/to-complete-request.js";
import { protectedProcedure, router } from "../trpc.js";
import {
  jobPriorities,
  jobStates,
  notificationChannels,
  toWebJob,
  type WebJob,
} from "../web-types/web-job.js";

function toJobSpec(spec: SubmitJobInput["spec"]): MessageInitShape<typeof JobSpecSchema> {
  switch (spec.kind) {
    case "inference":
      return { kind: { case: "inference", value: toCompleteRequest(spec) } };
    case "notification":
      return {
        kind: {
          case: "notification",
          value: {
            channel: notificationChannels[spec.channel],
            to: spec.to,
            subject: spec.subject,
            body: spec.body,
          },
        },
      };
    case "usage-export":
      return {
        kind: {
          case: "usageExport",
          value: {
            startTime: timestampFromDate(new Date(spec.start)),
            endTime: timestampFromDate(new Date(spec.end)),
            format: spec.format === "csv" ? ExportFormat.CSV : ExportFormat.JSONL,
          },
        },
      };
  }
}

function jobOf(response: { job?: Parameters<typeof toWebJob>[0] }): WebJob {
  if (!response.job) throw new Error("JobService answered without a job");
  return toWebJob(response.job);
}

/** JobService: submit, read, list and watch the caller's tenant's jobs; cancel and retry them. */
export const jobsRouter = router({
  submit: protectedProcedure
    .input(submitJobInput)
    .mutation(async ({ ctx, input, signal }): Promise<{ job: WebJob; deduplicated: boolean }> => {
      const response = await ctx.call(
        ctx.session.apiKey,
        (options) =>
          ctx.rpc.jobs.submitJob(
            {
              spec: toJobSpec(input.spec),
              priority: input.priority ? jobPriorities[input.priority] : undefined,
              callbackUrl: input.callbackUrl,
              idempotencyKey: input.idempotencyKey,
            },
            options,
          ),
        { signal },
      );
      return { job: jobOf(response), deduplicated: response.deduplicated };
    }),

  get: protectedProcedure.input(jobIdInput).query(async ({ ctx, input, signal }): Promise<WebJob> => {
    const response = await ctx.call(ctx.session.apiKey, (options) => ctx.rpc.jobs.getJob(input, options), {
      signal,
    });
    return jobOf(response);
  }),

  list: protectedProcedure
    .input(listJobsInput)
    .query(async ({ ctx, input, signal }): Promise<{ jobs: WebJob[]; nextPageToken: string | null }> => {
      const response = await ctx.call(
        ctx.session.apiKey,
        (options) =>
          ctx.rpc.jobs.listJobs(
            {
              state: input.state ? jobStates[input.state] : undefined,
              pageSize: input.pageSize,
              pageToken: input.pageToken,
            },
            options,
          ),
        { signal },
      );
      return { jobs: response.jobs.map(toWebJob), nextPageToken: response.nextPageToken || null };
    }),

  /** The job now and after every change (WatchJob), ending after a final state; unsubscribing ends the RPC. */
  watch: protectedProcedure.input(jobIdInput).subscription(async function* ({
    ctx,
    input,
    signal,
  }): AsyncGenerator<WebJob> {
    for await (const message of ctx.stream(
      ctx.session.apiKey,
      (options) => ctx.rpc.jobs.watchJob(input, options),
      { signal },
    )) {
      if (message.job) yield toWebJob(message.job);
    }
  }),

  cancel: protectedProcedure.input(jobIdInput).mutation(async ({ ctx, input, signal }): Promise<WebJob> => {
    const response = await ctx.call(ctx.session.apiKey, (options) => ctx.rpc.jobs.cancelJob(input, options), {
      signal,
    });
    return jobOf(response);
  }),

  /** Queues a dead-lettered or failed job again. */
  retry: protectedProcedure.input(jobIdInput).mutation(async ({ ctx, input, signal }): Promise<WebJob> => {
    const response = await ctx.call(ctx.session.apiKey, (options) => ctx.rpc.jobs.retryJob(input, options), {
      signal,
    });
    return jobOf(response);
  }),
});
