import { forwardAbort } from "./forward-abort.js";

/** An "abort" listener: a function, or an object with `handleEvent` (as EventTarget takes them). */
export type AbortListener = ((event: Event) => void) | { handleEvent(event: Event): void };

/**
 * What NOA's layers read of a call's cancellation (`CallOptions.signal`): whether and why it was
 * aborted, and "abort" listeners. Every AbortSignal is one; so is a CallController's signal.
 */
export interface CallSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: "abort", listener: AbortListener, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: AbortListener): void;
}

/**
 * An AbortController for NOA's own layers, whose signal is a plain object. On Node 20 every AbortSignal
 * gets a hidden class of its own (EventTarget, then a prototype change), so each read of one and each
 * listener added or removed misses V8's inline caches, and each signal leaves a map for the old
 * generation; the REST path made two per request (docs/benchmarks.md). Listeners run once, in the order
 * they were added, as EventTarget runs them (`once` or not: a signal aborts once); `toAbortSignal` gives
 * an API that needs a real AbortSignal one that follows it.
 */
export class CallController {
  readonly #signal = new ControlledSignal();

  get signal(): CallSignal {
    return this.#signal;
  }

  /** Aborts the signal (once): `reason` defaults to an `AbortError` DOMException, as AbortController's. */
  abort(reason?: unknown): void {
    this.#signal.abort(reason);
  }
}

class ControlledSignal implements CallSignal {
  aborted = false;
  reason: unknown = undefined;
  #listeners: AbortListener[] = [];

  addEventListener(type: "abort", listener: AbortListener): void {
    // After the abort a listener would never run; like EventTarget, a listener is kept once.
    if (type !== "abort" || this.aborted || this.#listeners.includes(listener)) return;
    this.#listeners.push(listener);
  }

  removeEventListener(type: "abort", listener: AbortListener): void {
    if (type !== "abort") return;
    const index = this.#listeners.indexOf(listener);
    if (index !== -1) this.#listeners.splice(index, 1);
  }

  abort(reason: unknown = new DOMException("This operation was aborted", "AbortError")): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.#listeners;
    if (listeners.length === 0) return;
    const event = new Event("abort");
    for (const listener of [...listeners]) {
      // One removed by an earlier listener does not run, as with EventTarget.
      if (!listeners.includes(listener)) continue;
      try {
        if (typeof listener === "function") listener.call(this, event);
        else listener.handleEvent(event);
      } catch (error) {
        // As EventTarget does: a throwing listener does not stop the others; its error is uncaught.
        process.nextTick(() => {
          throw error;
        });
      }
    }
    this.#listeners = [];
  }
}

/**
 * A real AbortSignal that follows `signal` (the signal itself when it is one), for an API that checks
 * for one (fetch, the vendor SDKs' request options, node-llama-cpp).
 */
export function toAbortSignal(signal: CallSignal | undefined): AbortSignal | undefined {
  if (signal === undefined || signal instanceof AbortSignal) return signal;
  const controller = new AbortController();
  // Never detached: the CallSignal lives for one call, and the AbortSignal with it.
  forwardAbort(controller, [signal]);
  return controller.signal;
}
