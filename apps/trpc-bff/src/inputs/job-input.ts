import { z } from "zod";
import { chatInput } from "./chat-input.js";

const inferenceJob = chatInput
  .pick({
    model: true,
    messages: true,
    maxTokens: true,
    temperature: true,
    topP: true,
    stop: true,
    seed: true,
  })
  .extend({ kind: z.literal("inference") });

const notificationJob = z.object({
  kind: z.literal("notification"),
  channel: z.enum(["webhook", "email", "slack"]),
  to: z.string().trim().min(1, "say where to send it").max(2_048),
  subject: z.string().max(200).default(""),
  body: z.string().min(1, "the message is empty").max(100_000),
});

/** JobService refuses a usage export spanning more (spec.usage_export "may span at most 366 days"). */
const maxExportDays = 366;
const dayMs = 86_400_000;

const usageExportJob = z
  .object({
    kind: z.literal("usage-export"),
    start: z.iso.datetime({ offset: true, message: "an ISO 8601 date-time" }),
    end: z.iso.datetime({ offset: true, message: "an ISO 8601 date-time" }),
    format: z.enum(["jsonl", "csv"]).default("jsonl"),
  })
  .refine((job) => Date.parse(job.end) > Date.parse(job.start), {
    path: ["end"],
    message: "must be after start",
  })
  .refine((job) => Date.parse(job.end) - Date.parse(job.start) <= maxExportDays * dayMs, {
    path: ["end"],
    message: `at most ${maxExportDays} days after start`,
  });

/** jobs.submit's input, mirroring SubmitJobRequest's rules. */
export const submitJobInput = z.object({
  spec: z.discriminatedUnion("kind", [inferenceJob, notificationJob, usageExportJob]),
  priority: z.enum(["high", "medium", "low"]).optional(),
  callbackUrl: z.url({ protocol: /^https?$/, message: "an http(s) URL" }).optional(),
  idempotencyKey: z.string().min(1).max(200, "at most 200 characters").optional(),
});

export type SubmitJobInput = z.infer<typeof submitJobInput>;

/** A job id. */
export const jobIdInput = z.object({ id: z.string().trim().min(1, "a job id").max(128) });

/** jobs.list's filter and page. */
export const listJobsInput = z.object({
  state: z
    .enum(["queued", "active", "retrying", "completed", "failed", "dead-lettered", "cancelled"])
    .optional(),
  pageSize: z.number().int().min(1).max(500).optional(),
  pageToken: z.string().max(1_024).optional(),
});
