import { CallController } from "../call-signal.js";
import { TimeoutError } from "../errors/timeout-error.js";
import { forwardAbort } from "../forward-abort.js";
import type { CallOptions, LanguageModel, StreamPart } from "../language-model.js";

/** Time limits of one attempt on a target; unset or 0 means none. The caller's own deadline (its signal) always wins. */
export interface TimeoutPolicy {
  /** From the call to the first token (for generate: to the answer). */
  firstTokenMs?: number;
  /** From the call to the end of the answer. */
  totalMs?: number;
}

/**
 * Aborts a target that is too slow and throws a retryable TimeoutError, so retry and fallback can act.
 * An abort by the caller passes through as the contract's `cancelled` ending.
 */
export function withTimeout(model: LanguageModel, limits: TimeoutPolicy): LanguageModel {
  const policy = { firstTokenMs: limits.firstTokenMs || undefined, totalMs: limits.totalMs || undefined };
  if (policy.firstTokenMs === undefined && policy.totalMs === undefined) return model;

  function arm(options: CallOptions) {
    // Not an AbortController: on Node 20 each AbortSignal costs several µs more (CallController).
    const controller = new CallController();
    let timedOut: TimeoutError | undefined;
    const expire = (kind: "first-token" | "total", ms: number) => () => {
      timedOut = new TimeoutError(kind, ms, model.provider);
      controller.abort(timedOut);
    };
    const detach = forwardAbort(controller, [options.signal]);
    let firstToken =
      policy.firstTokenMs === undefined
        ? undefined
        : setTimeout(expire("first-token", policy.firstTokenMs), policy.firstTokenMs);
    const total =
      policy.totalMs === undefined ? undefined : setTimeout(expire("total", policy.totalMs), policy.totalMs);
    return {
      options: { ...options, signal: controller.signal },
      gotFirstToken() {
        clearTimeout(firstToken);
        firstToken = undefined;
      },
      /** The timeout that fired, unless the caller had left first. */
      timedOut: () => (options.signal?.aborted ? undefined : timedOut),
      dispose() {
        clearTimeout(firstToken);
        clearTimeout(total);
        detach();
      },
    };
  }

  return {
    provider: model.provider,
    modelId: model.modelId,
    async generate(options) {
      const call = arm(options);
      try {
        const result = await model.generate(call.options);
        const timedOut = call.timedOut();
        if (timedOut) throw timedOut;
        return result;
      } catch (error) {
        throw call.timedOut() ?? error;
      } finally {
        call.dispose();
      }
    },
    async *stream(options): AsyncGenerator<StreamPart> {
      const call = arm(options);
      try {
        for await (const part of model.stream(call.options)) {
          if (part.type === "text-delta") call.gotFirstToken();
          else {
            const timedOut = call.timedOut();
            if (timedOut) throw timedOut;
          }
          yield part;
        }
      } catch (error) {
        throw call.timedOut() ?? error;
      } finally {
        call.dispose();
      }
    },
  };
}
