import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  CancelJobResponseSchema,
  GetJobResponseSchema,
  type Job,
  JobPriority,
  JobState,
  ListJobsResponseSchema,
  RetryJobResponseSchema,
  Role,
  SubmitJobResponseSchema,
  WatchJobResponseSchema,
} from "@noa/proto";
import { Presets, SingleBar } from "cli-progress";
import { type Command, Option } from "commander";
import pc from "picocolors";
import type { CliContext } from "../cli-context.js";
import { CliError } from "../cli-error.js";
import { ExitCode } from "../exit-codes.js";
import { formatTable } from "../format-table.js";
import { formatTime } from "../format-time.js";
import { finiteNumber, int32Max, integerIn } from "../parse-number.js";
import { printJson } from "../print-json.js";

const priorities: Record<string, JobPriority> = {
  high: JobPriority.HIGH,
  medium: JobPriority.MEDIUM,
  low: JobPriority.LOW,
};
const states: Record<string, JobState> = {
  queued: JobState.QUEUED,
  active: JobState.ACTIVE,
  retrying: JobState.RETRYING,
  completed: JobState.COMPLETED,
  failed: JobState.FAILED,
  "dead-lettered": JobState.DEAD_LETTERED,
  cancelled: JobState.CANCELLED,
};
const stateNames = new Map(Object.entries(states).map(([name, state]) => [state, name]));
const priorityNames = new Map(Object.entries(priorities).map(([name, priority]) => [priority, name]));
const finalStates = new Set([
  JobState.COMPLETED,
  JobState.FAILED,
  JobState.DEAD_LETTERED,
  JobState.CANCELLED,
]);

interface SubmitOptions {
  model?: string;
  system?: string;
  maxTokens?: number;
  temperature?: number;
  priority: string;
  callbackUrl?: string;
  idempotencyKey?: string;
  watch?: boolean;
}

/** `noa jobs [submit | get | ls | watch | cancel | retry]`: asynchronous inference jobs (needs the jobs scope). */
export function registerJobs(program: Command, context: CliContext): void {
  const jobs = program
    .command("jobs")
    .description("run inference asynchronously: submit, follow, cancel and retry jobs");

  jobs
    .command("submit")
    .description("queue an inference job and print its id (--watch: follow it to the end)")
    .argument("<prompt...>", "the prompt (words are joined)")
    .addOption(new Option("-m, --model <id>", "model id or alias").env("NOA_MODEL").makeOptionMandatory())
    .option("-s, --system <text>", "a system message")
    .option("--max-tokens <n>", "most tokens to generate", integerIn(1, int32Max))
    .option("--temperature <t>", "sampling temperature, 0 to 2", finiteNumber)
    .addOption(
      new Option("--priority <priority>", "queue priority")
        .choices(Object.keys(priorities))
        .default("medium"),
    )
    .option("--callback-url <url>", "POST the finished job here, signed with HMAC-SHA256")
    .option("--idempotency-key <key>", "submitting again with the same key returns the first job")
    .option("--watch", "follow the job until it ends, with a progress bar")
    .action(async (words: string[], options: SubmitOptions) => {
      const messages = [
        ...(options.system ? [{ role: Role.SYSTEM, content: options.system }] : []),
        { role: Role.USER, content: words.join(" ") },
      ];
      const response = await context.client().jobs.submitJob({
        spec: {
          kind: {
            case: "inference",
            value: {
              model: options.model ?? "",
              messages,
              maxTokens: options.maxTokens,
              temperature: options.temperature,
            },
          },
        },
        priority: priorities[options.priority],
        callbackUrl: options.callbackUrl,
        idempotencyKey: options.idempotencyKey,
      });
      const id = response.job?.id ?? "";
      if (context.options().json && !options.watch)
        return printJson(context.stdout, SubmitJobResponseSchema, response);
      if (!context.options().json) {
        context.stdout.write(`${id}\n`);
        if (response.deduplicated)
          context.stderr.write(pc.dim("(an earlier job with this idempotency key)\n"));
      }
      if (options.watch) process.exitCode = await watchJob(context, id);
    });

  jobs
    .command("get")
    .description("show a job: state, progress, attempts, result or error")
    .argument("<id>", "the job's id")
    .action(async (id: string) => {
      const response = await context.client().jobs.getJob({ id });
      if (context.options().json) return printJson(context.stdout, GetJobResponseSchema, response);
      if (response.job) context.stdout.write(describeJob(response.job));
    });

  jobs
    .command("ls", { isDefault: true })
    .alias("list")
    .description("list your tenant's jobs, newest first")
    .addOption(new Option("--state <state>", "only jobs in this state").choices(Object.keys(states)))
    .option("--limit <n>", "most jobs to show", integerIn(1, 500), 50)
    .action(async (options: { state?: string; limit: number }) => {
      const response = await context.client().jobs.listJobs({
        state: options.state ? states[options.state] : JobState.UNSPECIFIED,
        pageSize: options.limit,
      });
      if (context.options().json) return printJson(context.stdout, ListJobsResponseSchema, response);
      context.stdout.write(
        formatTable(
          ["ID", "STATE", "PRIORITY", "PROGRESS", "ATTEMPTS", "CREATED", "KIND"],
          response.jobs.map((job) => [
            job.id,
            stateNames.get(job.state) ?? "unknown",
            priorityNames.get(job.priority) ?? "medium",
            `${Math.round(job.progress * 100)}%`,
            `${job.attempts}/${job.maxAttempts}`,
            formatTime(job.createTime),
            job.spec?.kind.case ?? "-",
          ]),
        ),
      );
    });

  jobs
    .command("watch")
    .description("follow a job live until it ends (Ctrl-C stops watching; the job goes on)")
    .argument("<id>", "the job's id")
    .action(async (id: string) => {
      process.exitCode = await watchJob(context, id);
    });

  jobs
    .command("cancel")
    .description("cancel a queued, retrying or running job (a running generation stops)")
    .argument("<id>", "the job's id")
    .action(async (id: string) => {
      const response = await context.client().jobs.cancelJob({ id });
      if (context.options().json) return printJson(context.stdout, CancelJobResponseSchema, response);
      context.stdout.write(`cancelled ${id}\n`);
    });

  jobs
    .command("retry")
    .description("queue a failed or dead-lettered job again, with fresh attempts")
    .argument("<id>", "the job's id")
    .action(async (id: string) => {
      const response = await context.client().jobs.retryJob({ id });
      if (context.options().json) return printJson(context.stdout, RetryJobResponseSchema, response);
      context.stdout.write(`queued ${id} again\n`);
    });
}

/**
 * Streams WatchJob: a progress bar with the state on a terminal, a line per change elsewhere, NDJSON
 * with --json. Returns the exit code: 0 when the job completed, 1 when it failed or was cancelled.
 */
async function watchJob(context: CliContext, id: string): Promise<number> {
  const { stdout, stderr } = context;
  const json = context.options().json;
  const live = Boolean(stderr.isTTY) && !json;
  const bar = new SingleBar(
    { stream: stderr, format: "{bar} {percentage}% | {state} | attempt {attempts}", hideCursor: true },
    Presets.shades_classic,
  );
  const abort = new AbortController();
  const onInterrupt = () => abort.abort();
  process.once("SIGINT", onInterrupt);
  let last: Job | undefined;
  let lastLine = "";
  try {
    for await (const { job } of context.client().jobs.watchJob({ id }, { signal: abort.signal })) {
      if (!job) continue;
      last = job;
      const state = stateNames.get(job.state) ?? "unknown";
      const attempts = `${job.attempts}/${job.maxAttempts}`;
      if (json) {
        printJson(stdout, WatchJobResponseSchema, create(WatchJobResponseSchema, { job }));
      } else if (live) {
        if (!bar.isActive) bar.start(100, 0, { state, attempts });
        bar.update(Math.round(job.progress * 100), { state, attempts });
      } else {
        const line = `${state} ${Math.round(job.progress * 100)}% (attempt ${attempts})`;
        if (line !== lastLine) stderr.write(`${line}\n`);
        lastLine = line;
      }
    }
  } catch (error) {
    if (!(abort.signal.aborted && ConnectError.from(error).code === Code.Canceled)) throw error;
    if (bar.isActive) bar.stop();
    throw new CliError(
      `stopped watching ${id}; the job goes on (noa jobs watch ${id})`,
      ExitCode.interrupted,
    );
  } finally {
    process.off("SIGINT", onInterrupt);
    if (bar.isActive) bar.stop();
  }
  if (!last || !finalStates.has(last.state)) {
    throw new CliError(`the server ended the watch of ${id} before the job finished`, ExitCode.server);
  }
  if (json) return last.state === JobState.COMPLETED ? ExitCode.ok : ExitCode.server;
  if (last.state === JobState.COMPLETED) {
    const result = last.result?.kind;
    if (result?.case === "inference") stdout.write(`${result.value.text}\n`);
    return ExitCode.ok;
  }
  const reason = last.error ? `${last.error.message} [${last.error.code}]` : stateNames.get(last.state);
  stderr.write(
    `${pc.red("error:")} job ${id} ${stateNames.get(last.state)}: ${reason} (correlation id: ${last.correlationId})\n`,
  );
  return ExitCode.server;
}

function describeJob(job: Job): string {
  const rows: Array<[string, string]> = [
    ["id", job.id],
    ["state", stateNames.get(job.state) ?? "unknown"],
    ["priority", priorityNames.get(job.priority) ?? "medium"],
    ["progress", `${Math.round(job.progress * 100)}%`],
    ["attempts", `${job.attempts}/${job.maxAttempts}`],
    ["kind", job.spec?.kind.case ?? "-"],
    ["created", formatTime(job.createTime)],
    ["updated", formatTime(job.updateTime)],
    ["finished", formatTime(job.finishTime)],
    ["correlation id", job.correlationId || "-"],
  ];
  if (job.nextAttemptTime) rows.push(["next attempt", formatTime(job.nextAttemptTime)]);
  if (job.callbackUrl) {
    const delivered = job.webhookDeliveries.filter((delivery) => delivery.delivered).length;
    rows.push(["callback", `${job.callbackUrl} (${delivered}/${job.webhookDeliveries.length} delivered)`]);
  }
  if (job.error)
    rows.push([
      "error",
      `${job.error.message} [${job.error.code}${job.error.retryable ? ", retryable" : ""}]`,
    ]);
  const result = job.result?.kind;
  if (result?.case === "inference") {
    const usage = result.value.usage;
    rows.push(["model", result.value.model]);
    rows.push([
      "usage",
      `${usage?.promptTokens ?? 0} prompt + ${usage?.completionTokens ?? 0} completion tokens, $${result.value.costUsd.toFixed(6)}`,
    ]);
    rows.push(["answer", result.value.text]);
  } else if (result?.case === "notification") {
    rows.push(["delivered", `status ${result.value.statusCode}`]);
  } else if (result?.case === "usageExport") {
    rows.push(["export", `${result.value.recordCount} records`]);
  }
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, value]) => `${name.padEnd(width)}  ${value}\n`).join("");
}
