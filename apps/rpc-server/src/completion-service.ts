import { type Principal, requireModel, requireScope } from "@noa/access";
import type {
  AttemptEvent,
  CallOptions,
  FinishReason,
  LanguageModel,
  ModelRegistry,
  Usage,
} from "@noa/providers";
import type { Logger } from "pino";
import { type AccountingDeps, beginCall, type RateLimitState } from "./call-accounting.js";
import { codeName } from "./classify-error.js";

/** A completion as both faces (Connect and OpenAI REST) ask for it, after their own validation. */
export interface CompletionRequest {
  principal: Principal;
  /** Model id or alias, as requested. */
  model: string;
  /** Messages and parameters; `signal` is the call's (client cancel, deadline, shutdown). */
  options: CallOptions;
  correlationId: string;
}

/** Who served an answer, how many provider calls it took, and what it cost. */
export interface ServedBy {
  /** `<provider>/<model>` that answered. */
  model: string;
  provider: string;
  attempts: number;
  costUsd: number;
}

/** The end of an answer. */
export interface CompletionFinish extends ServedBy {
  finishReason: FinishReason;
  usage: Usage;
}

/** A streamed answer's parts. */
export type CompletionEvent = { type: "text"; text: string } | ({ type: "finish" } & CompletionFinish);

/** One admitted call: either generate or stream it, once. */
export interface CompletionCall {
  /** The caller's request bucket after this call was admitted. */
  rateLimit: RateLimitState;
  generate(): Promise<{ text: string } & CompletionFinish>;
  stream(): AsyncGenerator<CompletionEvent>;
}

/**
 * The one service layer under both faces: checks the caller's scope and model allow-list, resolves the
 * model through the router, admits the call against the caller's rate limit, runs it with the call's
 * signal so a caller that leaves stops the generation, logs every provider attempt, and records usage
 * and cost for every admitted call — completed, failed, cancelled or cut — with the tokens delivered.
 * Errors are the domain's own (AccessError, NoSuchModelError, ProviderError…); each face maps them once.
 */
export function createCompletionService({
  registry,
  logger,
  accounting,
}: {
  registry: ModelRegistry;
  logger: Logger;
  accounting: AccountingDeps;
}) {
  return {
    async start({ principal, model, options, correlationId }: CompletionRequest): Promise<CompletionCall> {
      requireScope(principal, "inference");
      requireModel(principal, model);
      const languageModel = registry.languageModel(model);
      const call = await beginCall(accounting, { principal, modelRequested: model, correlationId });
      // A single successful attempt says nothing the request's own log line does not; the rest
      // (errors, retries, skipped breakers) are what an operator looks for.
      const trace = traceAttempts(languageModel, (event) =>
        logger[event.outcome === "ok" ? "debug" : "info"](
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
      const callOptions: CallOptions = { ...options, onAttempt: trace.onAttempt };
      const signal = options.signal;
      const finish = (finishReason: FinishReason, usage: Usage): CompletionFinish => {
        const status = finishReason === "cancelled" ? "cancelled" : "ok";
        const served = trace.served();
        const costUsd = call.settle({ status, usage, servedBy: served });
        return { finishReason, usage, costUsd, attempts: trace.attempts(), ...splitTarget(served ?? "") };
      };
      const fail = (error: unknown, usage: Usage) =>
        call.settle({
          status: signal?.aborted ? "cancelled" : "error",
          errorCode: codeName(error),
          usage,
          servedBy: trace.served(),
        });

      return {
        rateLimit: call.rateLimit,
        async generate() {
          try {
            const result = await languageModel.generate(callOptions);
            return { text: result.text, ...finish(result.finishReason, result.usage) };
          } catch (error) {
            fail(error, { promptTokens: 0, completionTokens: 0 });
            throw error;
          }
        },
        async *stream() {
          let delivered = 0;
          let settled = false;
          try {
            for await (const part of languageModel.stream(callOptions)) {
              if (part.type === "text-delta") {
                delivered++;
                yield { type: "text", text: part.text };
                continue;
              }
              settled = true;
              yield { type: "finish", ...finish(part.finishReason, part.usage) };
            }
          } catch (error) {
            // Cut mid-stream: the prompt's size is not known here; delivered chunks count one token each (an estimate).
            if (!settled) fail(error, { promptTokens: 0, completionTokens: delivered });
            settled = true;
            throw error;
          } finally {
            // The consumer stopped reading before the end: the client left.
            if (!settled) {
              call.settle({
                status: "cancelled",
                usage: { promptTokens: 0, completionTokens: delivered },
                servedBy: trace.served(),
              });
            }
          }
        },
      };
    },
  };
}

export type CompletionService = ReturnType<typeof createCompletionService>;

function splitTarget(target: string): { provider: string; model: string } {
  return { provider: target.slice(0, Math.max(0, target.indexOf("/"))), model: target };
}

/** Follows a call's attempts to tell which target served it and how many calls it took. */
function traceAttempts(model: LanguageModel, log: (event: AttemptEvent) => void) {
  const events: AttemptEvent[] = [];
  return {
    onAttempt(event: AttemptEvent) {
      events.push(event);
      log(event);
    },
    /** `<provider>/<model>` of the target that answered; the model itself when no router reported attempts. */
    served: (): string | undefined =>
      events.findLast((event) => event.outcome === "ok" || event.outcome === "cancelled")?.target ??
      (events.length === 0 ? `${model.provider}/${model.modelId}` : undefined),
    attempts: () => Math.max(1, events.filter((event) => event.outcome !== "circuit-open").length),
  };
}
