import { setTimeout as delay } from "node:timers/promises";
import type { JobRecord, JobStateName } from "../job-record.js";
import type { JobPatch, JobStore } from "../job-store.js";

/** Pauses before each new try of a write that ends an attempt: about 4 s in all, well inside a job's lock. */
export const defaultOutcomeWriteDelaysMs: readonly number[] = [200, 1_000, 3_000];

/**
 * Stores the state that ends a job's attempt (`patch.state`) with a compare-and-set from `from`, trying
 * again after each of `delaysMs` when the database fails: the attempt's work is done, and running it again
 * (a generation charged twice) costs more than waiting a few seconds. A write that failed client-side may
 * have applied all the same (an UPDATE that timed out, committed later): when a later try finds the job
 * no longer in `from`, it is read again and, already in `patch.state`, taken as written. Undefined when the
 * job left `from` otherwise (cancelled meanwhile); throws the last error once every try failed.
 */
export async function writeAttemptOutcome(options: {
  store: Pick<JobStore, "update" | "get">;
  id: string;
  from: readonly JobStateName[];
  patch: JobPatch & { state: JobStateName };
  delaysMs?: readonly number[];
  /** Told of each failed try that is tried again. */
  onRetry?: (error: unknown, retryInMs: number) => void;
}): Promise<JobRecord | undefined> {
  const { store, id, from, patch, delaysMs = defaultOutcomeWriteDelaysMs } = options;
  let failedBefore = false;
  for (let index = 0; ; index++) {
    try {
      const written = await store.update(id, from, patch);
      if (written || !failedBefore) return written;
      const stored = await store.get(id);
      return stored?.state === patch.state ? stored : undefined;
    } catch (error) {
      const retryInMs = delaysMs[index];
      if (retryInMs === undefined) throw error;
      failedBefore = true;
      options.onRetry?.(error, retryInMs);
      await delay(retryInMs);
    }
  }
}
