import type { CallSignal } from "../call-signal.js";

/** Waits `ms`; resolves false early if the signal aborts (the caller left during a backoff). */
export function abortableSleep(ms: number, signal: CallSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
