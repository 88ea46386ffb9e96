import { abortReasons } from "./processors/create-job-processor.js";

/** How many attempts stopped for a lost lock are remembered (see `lost`). */
const maxStopped = 1_000;

/** One attempt as the lock leases see it. */
interface Lease {
  jobId: string;
  /** Order of the attempts' starts in this process. */
  seq: number;
  controller: AbortController;
  timer: NodeJS.Timeout | undefined;
  /** Settles once the attempt's `hold` has returned. */
  ended: Promise<void>;
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
   * attempt of the same job in this process. An attempt that a later one of the same job took over returns
   * only once that one has: BullMQ stops renewing a job's lock when any attempt of it returns.
   */
  hold<T>(
    attempt: { jobId: string; lockedAt: number; signal: AbortSignal | undefined },
    run: (signal: AbortSignal) => Promise<T>,
  ): Promise<T>;
  /** BullMQ renewed these jobs' locks (its `locksRenewed` event): each lasts the lock's duration from now. */
  renewed(jobIds: readonly string[]): void;
  /**
   * BullMQ found these jobs' locks gone or another worker's (its `lockRenewalFailed` event): stops their
   * attempts, and returns the ids of the jobs whose attempt here tells of it (one running, or one already
   * stopped for its lost lock); a job it does not return was unknown here.
   */
  lost(jobIds: readonly string[]): string[];
}

/**
 * Lock leases for attempts whose locks last `lockDurationMs` without renewal. An attempt's lease is
 * counted by this process's clock from the last renewal it saw, so it ends no later than the lock in Redis
 * does, while Redis is still unreachable and before any other run can start. A job whose `lockedAt` is
 * older than its lock (the command that took it waited out an outage in the client's queue, and stamped
 * the time it was sent) keeps its lease until BullMQ's first renewal has had time to answer.
 */
export function createLockLeases(options: { lockDurationMs: number; now?: () => number }): LockLeases {
  const { lockDurationMs, now = Date.now } = options;
  const leases = new Set<Lease>();
  let started = 0;
  // Jobs whose attempt here ended stopped for a lost lock: a renewal sent before it stopped (queued through
  // the outage) still fails afterwards, and that failure is already told. Bounded: not every stop gets one.
  const stopped = new Set<string>();

  function expireAt(lease: Lease, at: number): void {
    clearTimeout(lease.timer);
    lease.timer = setTimeout(() => lease.controller.abort(abortReasons.lockLost), Math.max(0, at - now()));
    // Not what keeps a process alive: one whose workers were closed with Redis unreachable ends, although an
    // attempt it released still waits there for an answer that never comes.
    lease.timer.unref?.();
  }

  function leasesOf(jobIds: readonly string[]): Lease[] {
    return [...leases].filter((lease) => jobIds.includes(lease.jobId));
  }

  return {
    async hold({ jobId, lockedAt, signal }, run) {
      // BullMQ hands a job out again only once its lock is gone: an earlier attempt still running here
      // lost it (its timer was late, a blocked event loop).
      for (const earlier of leasesOf([jobId])) earlier.controller.abort(abortReasons.lockLost);
      stopped.delete(jobId);
      let end = () => {};
      const ended = new Promise<void>((resolve) => {
        end = resolve;
      });
      const lease: Lease = {
        jobId,
        seq: ++started,
        controller: new AbortController(),
        timer: undefined,
        ended,
      };
      leases.add(lease);
      // BullMQ renews a job whose lock it took over a quarter of the lock ago at its next renewal tick, at
      // most a quarter of the lock from now: its answer (renewed, or lost) decides, not a stale timestamp.
      // Redis set the lock after `lockedAt` and before this call, so this still ends before the lock does.
      expireAt(lease, Math.max(lockedAt + lockDurationMs, now() + lockDurationMs / 3));
      try {
        return await run(
          signal ? AbortSignal.any([signal, lease.controller.signal]) : lease.controller.signal,
        );
      } finally {
        clearTimeout(lease.timer);
        leases.delete(lease);
        if (lease.controller.signal.aborted) {
          stopped.add(jobId);
          if (stopped.size > maxStopped) stopped.delete(stopped.values().next().value as string);
        }
        // BullMQ tracks a job's lock by job id: once this attempt returns, it stops renewing the lock of a
        // later attempt of the same job here, which would then lose it in turn. This one returns after them.
        const later = [...leases].filter((other) => other.jobId === jobId && other.seq > lease.seq);
        await Promise.all(later.map((other) => other.ended));
        end();
      }
    },
    renewed(jobIds) {
      const at = now() + lockDurationMs;
      for (const lease of leasesOf(jobIds)) if (!lease.controller.signal.aborted) expireAt(lease, at);
    },
    lost(jobIds) {
      const running = leasesOf(jobIds);
      for (const lease of running) lease.controller.abort(abortReasons.lockLost);
      const stoppedBefore = jobIds.filter((id) => stopped.delete(id));
      return [...new Set([...running.map((lease) => lease.jobId), ...stoppedBefore])];
    },
  };
}
