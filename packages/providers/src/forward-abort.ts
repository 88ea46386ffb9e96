import type { CallSignal } from "./call-signal.js";

/**
 * Aborts `target` (an AbortController or a CallController, with the same reason) when any of `sources`
 * aborts, at once if one has; returns the function that detaches the listeners. Used instead of
 * `AbortSignal.any`, which on Node 20 can retain dependents of long-lived signals such as the llama.cpp
 * manager's close signal.
 */
export function forwardAbort(
  target: { abort(reason?: unknown): void },
  sources: readonly (CallSignal | undefined)[],
): () => void {
  const detachers: (() => void)[] = [];
  for (const source of sources) {
    if (!source) continue;
    if (source.aborted) {
      target.abort(source.reason);
      break;
    }
    const onAbort = () => target.abort(source.reason);
    source.addEventListener("abort", onAbort, { once: true });
    detachers.push(() => source.removeEventListener("abort", onAbort));
  }
  return () => {
    for (const detach of detachers) detach();
  };
}
