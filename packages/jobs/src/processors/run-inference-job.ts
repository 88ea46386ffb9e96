import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import type { RateLimiter, UsageRecord } from "@noa/access";
import type { Context } from "@noa/observability";
import {
  type CompleteRequest,
  type JobResult,
  JobResultSchema,
  FinishReason as ProtoFinishReason,
  Role,
} from "@noa/proto";
import {
  type AttemptEvent,
  type ChatMessage,
  type ChatRole,
  type FinishReason,
  type ModelRegistry,
  type Usage,
  usageOfCutCall,
} from "@noa/providers";
import type { JobRecord } from "../job-record.js";
import type { Logger } from "../logger.js";
import { classifyJobError, JobAttemptError } from "./job-attempt-error.js";

/**
 * Accounts an inference job as the synchronous path does: one usage record per attempt, priced, and its
 * tokens charged to the submitter's token budget (the one rpc-server admits calls against).
 */
export interface InferenceAccounting {
  ledger: { record(record: UsageRecord): void };
  prices: { costOf(model: string, usage: Usage): number };
  rateLimiter: Pick<RateLimiter, "chargeTokens">;
  logger: Logger;
}

const roles: Partial<Record<Role, ChatRole>> = {
  [Role.SYSTEM]: "system",
  [Role.USER]: "user",
  [Role.ASSISTANT]: "assistant",
};

const finishReasons: Record<FinishReason, ProtoFinishReason> = {
  stop: ProtoFinishReason.STOP,
  length: ProtoFinishReason.LENGTH,
  "content-filter": ProtoFinishReason.CONTENT_FILTER,
  cancelled: ProtoFinishReason.CANCELLED,
};

/**
 * Progress of an answer with no known limit (a remote model's, without max_tokens): an estimate, half way
 * at this many tokens, that keeps rising with each token and reaches 100 % only when the job completes.
 */
const openEndedHalfwayTokens = 256;

/**
 * `ai-inference`: streams the completion through the registry (router: retries, breakers, fallback) with
 * the job's signal, reports progress as tokens / the most the answer may hold (max_tokens; without it,
 * the room the prompt leaves in the model's context, when the model's context length is known; else
 * tokens / (tokens + 256), an estimate), and writes a usage record for the attempt whatever its outcome.
 * The result is the CompleteResponse a synchronous Complete would have returned.
 */
export async function runInferenceJob(options: {
  job: JobRecord;
  request: CompleteRequest;
  registry: ModelRegistry;
  accounting: InferenceAccounting;
  signal: AbortSignal;
  onProgress: (progress: number) => void;
  /** The attempt's span: the provider attempts' spans go under it. */
  traceContext: Context;
}): Promise<JobResult> {
  const { job, request, registry, accounting, signal, onProgress, traceContext } = options;
  const started = performance.now();
  const createdAt = new Date();
  const events: AttemptEvent[] = [];
  const messages: ChatMessage[] = request.messages.map((message, index) => {
    const role = roles[message.role];
    if (!role) {
      throw new JobAttemptError({
        code: "INVALID_ARGUMENT",
        message: `spec.inference.messages[${index}].role must be ROLE_SYSTEM, ROLE_USER or ROLE_ASSISTANT`,
        retryable: false,
      });
    }
    return { role, content: message.content };
  });
  const served = () =>
    events.findLast((event) => event.outcome === "ok" || event.outcome === "cancelled")?.target ??
    (events.length === 0 ? modelTarget : undefined);
  let modelTarget: string | undefined;
  let delivered = 0;
  // What the provider counted before any finish (its prompt, at least), for an attempt cut or cancelled.
  let counted: Usage | undefined;
  const record = (status: UsageRecord["status"], usage: Usage, errorCode?: string): number => {
    const servedBy = served();
    const costUsd = servedBy ? accounting.prices.costOf(servedBy, usage) : 0;
    accounting.ledger.record({
      id: randomUUID(),
      apiKeyId: job.apiKeyId,
      tenant: job.tenant,
      modelRequested: request.model,
      provider: servedBy?.slice(0, servedBy.indexOf("/")),
      modelServed: servedBy,
      promptTokens: usage.promptTokens,
      completionTokens: usage.completionTokens,
      costUsd,
      cached: false,
      cacheTier: undefined,
      status,
      errorCode,
      latencyMs: Math.round(performance.now() - started),
      correlationId: job.correlationId,
      createdAt,
    });
    const tokens = usage.promptTokens + usage.completionTokens;
    const budget = job.tokenBudget;
    if (budget && tokens > 0) {
      accounting.rateLimiter.chargeTokens(budget.key, tokens, budget.limits).catch((error: unknown) => {
        accounting.logger.warn(
          { err: error, jobId: job.id, correlationId: job.correlationId },
          "token budget charge failed",
        );
      });
    }
    return costUsd;
  };

  try {
    const model = registry.languageModel(request.model);
    modelTarget = `${model.provider}/${model.modelId}`;
    // Without max_tokens an answer still ends when the context is full (llama.cpp stops there): that
    // room is the limit in force. Unknown (0) for remote models and aliases: progress is an estimate.
    const contextLength =
      request.maxTokens === undefined
        ? await registry.getModel(request.model).then(
            (info) => info.contextLength,
            () => 0,
          )
        : 0;
    const limit = () => request.maxTokens ?? contextLength - (counted?.promptTokens ?? 0);
    let text = "";
    for await (const part of model.stream({
      messages,
      maxTokens: request.maxTokens,
      temperature: request.temperature,
      topP: request.topP,
      stop: request.stop.length > 0 ? [...request.stop] : undefined,
      seed: request.seed,
      signal,
      traceContext,
      onAttempt: (event) => events.push(event),
      onUsage: (usage) => {
        counted = usage;
      },
    })) {
      if (part.type === "text-delta") {
        text += part.text;
        delivered++;
        const most = limit();
        onProgress(
          most > 0 ? Math.min(1, delivered / most) : delivered / (delivered + openEndedHalfwayTokens),
        );
        continue;
      }
      const costUsd = record(part.finishReason === "cancelled" ? "cancelled" : "ok", part.usage);
      const servedBy = served() ?? "";
      return create(JobResultSchema, {
        kind: {
          case: "inference",
          value: {
            id: job.id,
            text,
            finishReason: finishReasons[part.finishReason],
            usage: {
              promptTokens: part.usage.promptTokens,
              completionTokens: part.usage.completionTokens,
              totalTokens: part.usage.promptTokens + part.usage.completionTokens,
            },
            provider: servedBy.slice(0, Math.max(0, servedBy.indexOf("/"))),
            model: servedBy,
            attempts: Math.max(1, events.filter((event) => event.outcome !== "circuit-open").length),
            costUsd,
          },
        },
      });
    }
    throw new Error("the model's stream ended without a finish part");
  } catch (error) {
    const status = signal.aborted ? "cancelled" : "error";
    record(status, usageOfCutCall(counted, delivered), classifyJobError(error).code.toLowerCase());
    throw error;
  }
}
