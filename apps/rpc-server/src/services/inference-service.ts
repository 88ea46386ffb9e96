import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { requireModel, requireScope } from "@noa/access";
import { CompleteResponseSchema, type InferenceService, StreamCompleteResponseSchema } from "@noa/proto";
import type { AttemptEvent, CallOptions, LanguageModel, ModelRegistry, Usage } from "@noa/providers";
import type { Logger } from "pino";
import { type AccountingDeps, beginCall, type CallOutcome } from "../call-accounting.js";
import { parseCompletionRequest } from "../parse-completion-request.js";
import { correlationIdKey, principalOf } from "../request-context.js";
import { codeOf } from "../to-connect-error.js";
import { toProtoFinishReason, toProtoUsage } from "../to-proto-completion.js";

const noUsage: Usage = { promptTokens: 0, completionTokens: 0 };

/**
 * InferenceService over the model router. Checks the caller's scope, model allow-list and rate limit,
 * hands the call's signal (client cancel, deadline, shutdown) to the provider so a caller that leaves
 * stops the generation, and records usage and cost for every admitted call — completed, failed,
 * cancelled or cut — with the tokens actually delivered. Each provider attempt is logged.
 */
export function createInferenceService({
  registry,
  logger,
  accounting,
}: {
  registry: ModelRegistry;
  logger: Logger;
  accounting: AccountingDeps;
}): ServiceImpl<typeof InferenceService> {
  async function prepare(request: Parameters<typeof parseCompletionRequest>[0], context: HandlerContext) {
    const { model, options } = parseCompletionRequest(request, context.signal);
    const principal = principalOf(context.values);
    requireScope(principal, "inference");
    requireModel(principal, model);
    const correlationId = context.values.get(correlationIdKey);
    const languageModel = registry.languageModel(model);
    const call = await beginCall(accounting, { principal, modelRequested: model, correlationId });
    const trace = traceAttempts(languageModel, (event) =>
      logger.info(
        {
          correlationId,
          target: event.target,
          attempt: event.attempt,
          outcome: event.outcome,
          ms: Math.round(event.durationMs),
          ...(event.error ? { error: event.error.message } : {}),
        },
        "provider attempt",
      ),
    );
    const settle = (outcome: Omit<CallOutcome, "servedBy">) =>
      call.settle({ ...outcome, servedBy: trace.served() });
    const fail = (error: unknown, usage: Usage) =>
      settle({
        status: context.signal.aborted ? "cancelled" : "error",
        errorCode: Code[codeOf(error)],
        usage,
      });
    return {
      options: { ...options, onAttempt: trace.onAttempt } satisfies CallOptions,
      trace,
      id: correlationId,
      settle,
      fail,
    };
  }

  return {
    async complete(request, context) {
      const { options, trace, id, settle, fail } = await prepare(request, context);
      let result: Awaited<ReturnType<LanguageModel["generate"]>>;
      try {
        result = await trace.model.generate(options);
      } catch (error) {
        fail(error, noUsage);
        throw error;
      }
      const status = result.finishReason === "cancelled" ? "cancelled" : "ok";
      const costUsd = settle({ status, usage: result.usage });
      throwIfAborted(context);
      return create(CompleteResponseSchema, {
        id,
        text: result.text,
        finishReason: toProtoFinishReason(result.finishReason),
        usage: toProtoUsage(result.usage),
        ...trace.servedByFields(),
        attempts: trace.attempts(),
        costUsd,
      });
    },

    async *streamComplete(request, context) {
      const { options, trace, id, settle, fail } = await prepare(request, context);
      let delivered = 0;
      let settled = false;
      try {
        for await (const part of trace.model.stream(options)) {
          if (part.type === "text-delta") {
            delivered++;
            yield create(StreamCompleteResponseSchema, { id, text: part.text });
            continue;
          }
          const status = part.finishReason === "cancelled" ? "cancelled" : "ok";
          const costUsd = settle({ status, usage: part.usage });
          settled = true;
          throwIfAborted(context);
          yield create(StreamCompleteResponseSchema, {
            id,
            finishReason: toProtoFinishReason(part.finishReason),
            usage: toProtoUsage(part.usage),
            ...trace.servedByFields(),
            attempts: trace.attempts(),
            costUsd,
          });
        }
      } catch (error) {
        // Cut mid-stream: the prompt's size is not known here, the delivered chunks are (one token each, an estimate).
        if (!settled) fail(error, { promptTokens: 0, completionTokens: delivered });
        settled = true;
        throw error;
      } finally {
        // The client stopped reading before the end.
        if (!settled)
          settle({ status: "cancelled", usage: { promptTokens: 0, completionTokens: delivered } });
      }
    },
  };
}

/** Follows a call's attempts to tell which target served it and how many calls it took. */
function traceAttempts(model: LanguageModel, log: (event: AttemptEvent) => void) {
  const events: AttemptEvent[] = [];
  const served = () =>
    events.findLast((event) => event.outcome === "ok" || event.outcome === "cancelled")?.target ??
    (events.length === 0 ? `${model.provider}/${model.modelId}` : undefined);
  return {
    model,
    onAttempt(event: AttemptEvent) {
      events.push(event);
      log(event);
    },
    /** `<provider>/<model>` of the target that answered; the model itself when no router reported attempts. */
    served,
    servedByFields(): { provider: string; model: string } {
      const target = served() ?? "";
      return { provider: target.slice(0, target.indexOf("/")), model: target };
    },
    attempts: () => Math.max(1, events.filter((event) => event.outcome !== "circuit-open").length),
  };
}

function throwIfAborted(context: HandlerContext): void {
  if (!context.signal.aborted) return;
  const reason: unknown = context.signal.reason;
  throw reason instanceof ConnectError ? reason : new ConnectError("the call was cancelled", Code.Canceled);
}
