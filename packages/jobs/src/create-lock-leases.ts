import { abortReasons } from "./processors/create-job-processor.js";

/** One attempt as the lock leases see it. */
interface Lease {
  jobId: string;
  controller: AbortController;
  timer: NodeJS.Timeout | undefined;
}

/**
 * What a worker process knows of the locks on the jobs it runs. BullMQ renews a job's lock while its
 * attempt runs; when a renewal cannot reach Redis for the lock's whole duration, the lock has expired
 * and BullMQ's stalled-job check gives the job to another run. The attempt holding it must then stop, or
 * the job runs (and is charged) twice.
 */
export interface LockLeases {
  /**
   * Runs one attempt of `jobId`, whose lock BullMQ took at `lockedAt` (ms since the epoch), with a signal
   * that aborts when BullMQ's `signal` does (CancelJob, shutdown), or with `abortReasons.lockLost` once
   * the lock is lost: not renewed for the lock's duration, reported lost by BullMQ, or taken by another
   * attempt of the same job in this process.
   */
  hold<T>(
    attempt: { jobId: string; lockedAt: number; signal: AbortSignal | undefined },
    run: (signal: AbortSignal) => Promise<T>,
  ): Promise<T>;
  /** BullMQ renewed these jobs' locks (its `locksRenewed` event): each lasts the lock's duration from now. */
  renewed(jobIds: readonly string[]): void;
  /** BullMQ found these jobs' locks gone or another worker's (its `lockRenewalFailed` event). */
  lost(jobIds: readonly string[]): void;
}

/**
 * Lock leases for attempts whose locks last `lockDurationMs` without renewal. An attempt's lease is
 * counted by this process's clock from the last renewal it saw, so it ends no later than the lock in Redis
 * does, while Redis is still unreachable and before any other run can start.
 */
export function createLockLeases(options: { lockDurationMs: number; now?: () => number }): LockLeases {
  const { lockDurationMs, now = Date.now } = options;
  const leases = new Set<Lease>();

  function expireAt(lease: Lease, at: number): void {
    clearTimeout(lease.timer);
    lease.timer = setTimeout(() => lease.controller.abort(abortReasons.lockLost), Math.max(0, at - now()));
  }

  function leasesOf(jobIds: readonly string[]): Lease[] {
    return [...leases].filter((lease) => jobIds.includes(lease.jobId));
  }

  return {
    async hold({ jobId, lockedAt, signal }, run) {
      // BullMQ hands a job out again only once its lock is gone: an earlier attempt still running here
      // lost it (its timer was late, a blocked event loop).
      for (const earlier of leasesOf([jobId])) earlier.controller.abort(abortReasons.lockLost);
      const lease: Lease = { jobId, controller: new AbortController(), timer: undefined };
      leases.add(lease);
      expireAt(lease, lockedAt + lockDurationMs);
      try {
        return await run(
          signal ? AbortSignal.any([signal, lease.controller.signal]) : lease.controller.signal,
        );
      } finally {
        clearTimeout(lease.timer);
        leases.delete(lease);
      }
    },
    renewed(jobIds) {
      const at = now() + lockDurationMs;
      for (const lease of leasesOf(jobIds)) if (!lease.controller.signal.aborted) expireAt(lease, at);
    },
    lost(jobIds) {
      for (const lease of leasesOf(jobIds)) lease.controller.abort(abortReasons.lockLost);
    },
  };
}
