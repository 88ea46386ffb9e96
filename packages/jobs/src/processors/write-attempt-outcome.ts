import { setTimeout as delay } from "node:timers/promises";
import type { JobRecord, JobStateName } from "../job-record.js";
import type { JobPatch, JobStore } from "../job-store.js";
import { AttemptTakenOverError } from "./attempt-taken-over-error.js";

/** Pauses before each new try of a write that ends an attempt: about 4 s in all, well inside a job's lock. */
export const defaultOutcomeWriteDelaysMs: readonly number[] = [200, 1_000, 3_000];

/**
 * Stores the state that ends a job's attempt (`patch.state`) with a compare-and-set from `from` and on the
 * run's number (`job.run`: the job's `attempts` as the run made them when it started), trying again after each
 * of `delaysMs` when the database fails: the attempt's work is done, and running it again (a generation
 * charged twice) costs more than waiting a few seconds. A write that failed client-side may have applied
 * all the same (an UPDATE that timed out, committed later): when a later try finds the job no longer in
 * `from`, it is read again and, still this run's and already in `patch.state`, taken as written. Undefined
 * when the job left `from` otherwise (cancelled meanwhile); throws AttemptTakenOverError when a later run
 * has started meanwhile (this run lost the job's lock), and the last error once every try failed.
 */
export async function writeAttemptOutcome(options: {
  store: Pick<JobStore, "update" | "get">;
  job: { id: string; run: number };
  from: readonly JobStateName[];
  patch: JobPatch & { state: JobStateName };
  delaysMs?: readonly number[];
  /** Told of each failed try that is tried again. */
  onRetry?: (error: unknown, retryInMs: number) => void;
}): Promise<JobRecord | undefined> {
  const { store, job, from, patch, delaysMs = defaultOutcomeWriteDelaysMs } = options;
  let failedBefore = false;
  for (let index = 0; ; index++) {
    try {
      const written = await store.update(job.id, from, patch, { expectedAttempts: job.run });
      if (written) return written;
      // Read only when nothing changed (a cancelled job, rarely a run taken over): which it was decides.
      const stored = await store.get(job.id);
      // A count this write sets itself (a run handed back uncounted) is this run's too, from a try that applied.
      const ours = stored && (stored.attempts === job.run || stored.attempts === patch.attempts);
      if (stored && !ours) throw new AttemptTakenOverError(job.id, job.run, stored.attempts);
      return failedBefore && stored?.state === patch.state ? stored : undefined;
    } catch (error) {
      const retryInMs = delaysMs[index];
      if (error instanceof AttemptTakenOverError || retryInMs === undefined) throw error;
      failedBefore = true;
      options.onRetry?.(error, retryInMs);
      await delay(retryInMs);
    }
  }
}
