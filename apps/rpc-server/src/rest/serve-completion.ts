import type { Principal, RateLimitAllowed } from "@noa/access";
import type { CallOptions, FinishReason, Usage } from "@noa/providers";
import type { Logger } from "pino";
import { codeName } from "../classify-error.js";
import type { CompletionFinish, CompletionService } from "../completion-service.js";
import { openSse, type SseWriter } from "./open-sse.js";
import { cacheResponseHeaders, parseCacheHeaders } from "./parse-cache-headers.js";
import type { RestExchange } from "./rest-exchange.js";
import { toOpenAIError } from "./to-openai-error.js";

/** A completion as an OpenAI endpoint asked for it, after validation; the signal is added here. */
export interface OpenAICompletionRequest {
  model: string;
  options: Omit<CallOptions, "signal" | "onAttempt">;
  stream: boolean;
  /** `stream_options.include_usage`: a last chunk with the usage, and `usage: null` on the others. */
  includeUsage: boolean;
  /** Text sent before the answer (legacy completions' `echo`). */
  prefix?: string;
}

/** What every object of one answer repeats. */
export interface AnswerMeta {
  /** `chatcmpl-<correlation id>` or `cmpl-<correlation id>`. */
  id: string;
  /** Unix seconds of the request. */
  created: number;
  /** The model as requested; the model that served replaces it once known. */
  model: string;
  includeUsage: boolean;
}

/** One endpoint's spelling of an answer: the whole object, and its stream chunks as JSON texts. */
export interface CompletionWireFormat {
  idPrefix: string;
  answer(meta: AnswerMeta, result: { text: string } & CompletionFinish): object;
  chunks(meta: AnswerMeta): {
    /** Chunks before the first text (chat: the one with `delta.role`). */
    start(): string[];
    text(text: string): string;
    /** The chunk with the finish reason and, with include_usage, the usage chunk. */
    finish(finish: CompletionFinish): string[];
  };
}

/** OpenAI's `finish_reason`; `cancelled` never reaches a client that is still there. */
export function toOpenAIFinishReason(reason: FinishReason): "stop" | "length" | "content_filter" {
  return reason === "length" ? "length" : reason === "content-filter" ? "content_filter" : "stop";
}

/** OpenAI's `usage` object. */
export function toOpenAIUsage(usage: Usage) {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
  };
}

/**
 * Runs one completion through the completion service (scope and model checks, routing, rate limit,
 * usage) and answers in `format`: one JSON object, or Server-Sent Events. A stream's headers wait for its
 * first part, so a failure before it is a plain JSON error with its status; a failure after it is an
 * error event and the stream ends without `[DONE]`. A client that leaves aborts the call (exchange.signal).
 * Cache instructions come from `Cache-Control` / `x-noa-cache` (parseCacheHeaders); the answer says how
 * the cache handled it in `x-noa-cache` and `x-noa-cache-tier`.
 */
export async function serveCompletion({
  exchange,
  completions,
  principal,
  admitted,
  request,
  format,
  logger,
}: {
  exchange: RestExchange;
  completions: CompletionService;
  principal: Principal;
  /** The request's admission, taken at authentication. */
  admitted: RateLimitAllowed;
  request: OpenAICompletionRequest;
  format: CompletionWireFormat;
  logger: Logger;
}): Promise<void> {
  const { correlationId, signal, log } = exchange;
  log.model = request.model;
  log.stream = request.stream;
  const cache = parseCacheHeaders(exchange.req.headers);
  const call = await completions.start({
    principal,
    model: request.model,
    // Not `{ ...request.options, signal }`: on Node 20 each key a literal adds after a spread costs ~1 µs.
    options: Object.assign({}, request.options, cache ? { cache, signal } : { signal }),
    correlationId,
    traceContext: exchange.traceContext,
    admitted,
  });
  const meta: AnswerMeta = {
    id: `${format.idPrefix}${correlationId}`,
    created: Math.floor(Date.now() / 1000),
    model: request.model,
    includeUsage: request.includeUsage,
  };
  const noteCache = () => {
    const event = call.cache();
    if (event) log.cache = event.status === "hit" ? event.source : event.status;
    for (const [name, value] of Object.entries(cacheResponseHeaders(event)))
      exchange.res.setHeader(name, value);
  };
  const noteFinish = (finish: CompletionFinish) => {
    log.served = finish.model;
    log.provider = finish.provider;
    log.attempts = finish.attempts;
    log.promptTokens = finish.usage.promptTokens;
    log.completionTokens = finish.usage.completionTokens;
  };

  if (!request.stream) {
    const result = await call.generate();
    noteFinish(result);
    noteCache();
    throwIfAborted(exchange);
    const text = request.prefix === undefined ? result.text : request.prefix + result.text;
    exchange.sendJson(
      200,
      format.answer({ ...meta, model: result.model || meta.model }, { ...result, text }),
    );
    return;
  }

  const chunks = format.chunks(meta);
  let sse: SseWriter | undefined;
  try {
    for await (const event of call.stream()) {
      if (event.type === "finish") noteFinish(event);
      if (signal.aborted || (event.type === "finish" && event.finishReason === "cancelled")) break;
      // The first part opens the stream: headers, the opening chunks, the echoed prompt.
      const opening: string[] = [];
      if (!sse) {
        noteCache();
        sse = openSse(exchange.res);
        opening.push(...chunks.start());
        if (request.prefix !== undefined) opening.push(chunks.text(request.prefix));
      }
      if (event.type === "text") {
        const full = sse.send(...opening, chunks.text(event.text));
        if (full) await full;
        continue;
      }
      sse.send(...opening, ...chunks.finish(event), "[DONE]");
      sse.end();
      return;
    }
  } catch (error) {
    if (!sse) throw error;
    if (!exchange.clientGone()) endWithError(sse, error);
    return;
  }
  if (exchange.clientGone()) return;
  // Aborted with the client still there: the server is shutting down.
  const reason: unknown = signal.reason ?? new Error("the generation ended as cancelled without an abort");
  if (!sse) throw reason;
  endWithError(sse, reason);

  /** Headers and tokens are out: the stream ends with an error event and without [DONE]. */
  function endWithError(open: SseWriter, error: unknown): void {
    log.error = codeName(error);
    open.send(JSON.stringify(toOpenAIError(error, { correlationId, logger, signal }).body));
    open.end();
  }
}

/** After a non-streaming call: nothing to send if the client left; the shutdown's error if the server is stopping. */
function throwIfAborted(exchange: RestExchange): void {
  if (exchange.signal.aborted) throw exchange.signal.reason;
}
