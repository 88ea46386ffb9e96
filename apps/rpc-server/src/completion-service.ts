import { type Principal, type RateLimitAllowed, requireModel, requireScope } from "@noa/access";
import { type Context, ROOT_CONTEXT } from "@noa/observability";
import {
  type AttemptEvent,
  type AttemptStart,
  type CacheEvent,
  type CacheSource,
  type CallOptions,
  type FinishReason,
  type InFlightTable,
  type LanguageModel,
  type ModelRegistry,
  type ResponseCache,
  type Usage,
  usageOfCutCall,
  withCache,
  withCoalescing,
} from "@noa/providers";
import type { Logger } from "pino";
import { type AccountingDeps, beginCall } from "./call-accounting.js";
import { codeName } from "./classify-error.js";
import { cacheTierSpans } from "./traced.js";

/** A completion as both faces (Connect and OpenAI REST) ask for it, after their own validation. */
export interface CompletionRequest {
  principal: Principal;
  /** Model id or alias, as requested. */
  model: string;
  /** Messages and parameters; `signal` is the call's (client cancel, deadline, shutdown). */
  options: CallOptions;
  correlationId: string;
  /** The face's server span: the call's spans (cache tiers, provider attempts) go under it. */
  traceContext?: Context;
  /** The call's one admission, taken by its face at authentication (admitCall with `checkTokens`). */
  admitted: RateLimitAllowed;
}

/** Who served an answer, how many provider calls it took, what it cost, and whether the cache served it. */
export interface ServedBy {
  /** `<provider>/<model>` that answered (for a cached answer: that first produced it). */
  model: string;
  provider: string;
  /** 0 for a cached answer. */
  attempts: number;
  /** 0 for a cached answer. */
  costUsd: number;
  /** Where a cached answer came from; undefined when a provider was called for this request. */
  cacheTier?: CacheSource | undefined;
}

/** The response cache under the completion service (main.ts builds it from NOA_CACHE_*). */
export interface CompletionCacheDeps {
  responses: ResponseCache;
  /** Identical calls in flight share one upstream call; undefined turns coalescing off. */
  inFlight?: InFlightTable;
  /** One cache for all tenants (NOA_CACHE_SCOPE=shared) instead of one per tenant. */
  shared: boolean;
  /** The targets the routing table resolves a model id or alias to; part of every key. Default: the id itself. */
  targetsOf?: (model: string) => readonly string[];
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
  /** How the cache handled the call so far (known before the first part); undefined without a cache. */
  cache(): CacheEvent | undefined;
  generate(): Promise<{ text: string } & CompletionFinish>;
  stream(): AsyncGenerator<CompletionEvent>;
}

/**
 * The one service layer under both faces: checks the caller's scope and model allow-list, resolves the
 * model through the router, accounts for the call its face admitted against the caller's limits (once,
 * at authentication), runs it with the call's signal so a caller that leaves stops the generation, logs
 * every provider attempt, and records usage and cost for every admitted call — completed, failed,
 * cancelled or cut — with the tokens delivered.
 * With `cache`, calls go through the response cache (per tenant unless shared) and identical calls in
 * flight are coalesced; a cached answer is still admitted against the rate limit, costs 0 and is
 * recorded with its tier.
 * Prompts and answers are not logged unless `logContent` (NOA_LOG_CONTENT) asks for one line per call
 * with both, which the logger masks like every other line.
 * Errors are the domain's own (AccessError, NoSuchModelError, ProviderError…); each face maps them once.
 */
export function createCompletionService({
  registry,
  logger,
  accounting,
  cache,
  logContent = false,
}: {
  registry: ModelRegistry;
  logger: Logger;
  accounting: AccountingDeps;
  cache?: CompletionCacheDeps;
  logContent?: boolean;
}) {
  /** The routed model behind the cache and coalescing wrappers, keyed by the model as requested and resolved. */
  const modelFor = (model: string): LanguageModel => {
    const routed = registry.languageModel(model);
    if (!cache) return routed;
    const identity = { requested: model, resolved: cache.targetsOf?.(model) ?? [model] };
    const cached = withCache(routed, { cache: cache.responses, identity });
    return cache.inFlight
      ? withCoalescing(cached, { cache: cache.responses, table: cache.inFlight, identity })
      : cached;
  };

  return {
    async start(request: CompletionRequest): Promise<CompletionCall> {
      const { principal, model, options, correlationId, traceContext = ROOT_CONTEXT } = request;
      requireScope(principal, "inference");
      requireModel(principal, model);
      const languageModel = modelFor(model);
      const call = beginCall(accounting, {
        principal,
        modelRequested: model,
        correlationId,
        admitted: request.admitted,
      });
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
      let cacheEvent: CacheEvent | undefined;
      // What the provider counted before any finish (its prompt, at least): a cut or cancelled call costs it.
      let counted: Usage | undefined;
      const own: Partial<CallOptions> = {
        traceContext,
        onAttempt: trace.onAttempt,
        onAttemptStart: trace.onAttemptStart,
        onCache: (event) => {
          cacheEvent = event;
        },
        onUsage: (usage) => {
          counted = usage;
        },
      };
      if (cache) {
        own.cache = Object.assign({}, options.cache, { scope: cache.shared ? "*" : principal.tenant });
        own.onCacheTier = cacheTierSpans(traceContext);
      }
      // Not `{ ...options, traceContext, … }`: on Node 20 each key a literal adds after a spread costs ~1 µs.
      const callOptions: CallOptions = Object.assign({}, options, own);
      const signal = options.signal;
      const hit = () => (cacheEvent?.status === "hit" ? cacheEvent : undefined);
      // A call that joined an identical one in flight has no attempts of its own: the shared answer says who served.
      const servedBy = () => hit()?.model ?? trace.served();
      // A failed call was served by the target that was answering when it failed, if it had used any tokens.
      const cutBy = (usage: Usage) =>
        hit()?.model ?? (usage.promptTokens + usage.completionTokens > 0 ? trace.serving() : undefined);
      const logAnswer = (completion: string) => {
        if (!logContent) return;
        const prompt = options.messages.map((message) => ({ role: message.role, content: message.content }));
        logger.info({ correlationId, model, prompt, completion }, "completion content");
      };
      const finish = (finishReason: FinishReason, usage: Usage): CompletionFinish => {
        const status = finishReason === "cancelled" ? "cancelled" : "ok";
        const served = servedBy();
        const cacheTier = hit()?.source;
        const costUsd = call.settle({ status, usage, servedBy: served, cacheTier });
        const attempts = cacheTier ? 0 : trace.attempts();
        return { finishReason, usage, costUsd, attempts, cacheTier, ...splitTarget(served ?? "") };
      };
      // A call that joined a shared one is not charged when it fails: the caller who owns it is.
      const fail = (error: unknown, usage: Usage) =>
        call.settle({
          status: signal?.aborted ? "cancelled" : "error",
          errorCode: codeName(error),
          usage,
          servedBy: cutBy(usage),
          cacheTier: hit()?.source,
        });

      return {
        cache: () => cacheEvent,
        async generate() {
          try {
            const result = await languageModel.generate(callOptions);
            logAnswer(result.text);
            return { text: result.text, ...finish(result.finishReason, result.usage) };
          } catch (error) {
            fail(error, usageOfCutCall(counted, 0));
            throw error;
          }
        },
        async *stream() {
          let delivered = 0;
          let settled = false;
          let text = "";
          try {
            for await (const part of languageModel.stream(callOptions)) {
              if (part.type === "text-delta") {
                if (logContent) text += part.text;
                yield { type: "text", text: part.text };
                // Back for more: the face sent it (a face that stops reading after an abort did not).
                delivered++;
                continue;
              }
              settled = true;
              logAnswer(text);
              yield { type: "finish", ...finish(part.finishReason, part.usage) };
            }
          } catch (error) {
            // Cut mid-stream: the prompt as the provider counted it (if it told), delivered chunks one token each at least.
            if (!settled) fail(error, usageOfCutCall(counted, delivered));
            settled = true;
            throw error;
          } finally {
            // The consumer stopped reading before the end: the client left.
            if (!settled) {
              call.settle({
                status: "cancelled",
                usage: usageOfCutCall(counted, delivered),
                servedBy: servedBy(),
                cacheTier: hit()?.source,
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
  let started: AttemptStart | undefined;
  // The attempt started last, until it reports how it ended.
  let open: string | undefined;
  // A model the router did not wrap reports no attempts: it serves itself.
  const unrouted = () =>
    events.length === 0 && started === undefined && model.provider !== "router"
      ? `${model.provider}/${model.modelId}`
      : undefined;
  return {
    onAttempt(event: AttemptEvent) {
      events.push(event);
      if (event.target === started?.target && event.attempt === started.attempt) open = undefined;
      log(event);
    },
    onAttemptStart(event: AttemptStart) {
      started = event;
      open = event.target;
    },
    /**
     * `<provider>/<model>` of the target that answered, or was answering when the caller stopped reading
     * (before the attempt reported its end); never the router itself.
     */
    served: (): string | undefined =>
      events.findLast((event) => event.outcome === "ok" || event.outcome === "cancelled")?.target ??
      open ??
      unrouted(),
    /** The target of the last attempt made (whatever its outcome): the one a cut call was getting its tokens from. */
    serving: (): string | undefined => started?.target ?? unrouted(),
    attempts: () => Math.max(1, events.filter((event) => event.outcome !== "circuit-open").length),
  };
}
