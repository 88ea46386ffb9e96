import type { JobRecord, JobStateName } from "../job-record.js";
import type { JobStore } from "../job-store.js";

/** Updates the in-memory store fails on demand. */
export interface UpdateFailure {
  times: number;
  /** Only updates to this state fail; any update when absent. */
  to?: JobStateName;
  /** The update applies, then the call throws: a client-side timeout of a write the database commits. */
  afterApplying?: boolean;
  message?: string;
}

/**
 * A JobStore in a Map, with the compare-and-set `update` (on state and attempts) PostgreSQL's store has;
 * `history` keeps a copy of each job after every change, so a test sees every state a watcher could have
 * read; `failUpdates` makes writes fail on demand.
 */
export function createInMemoryJobStore(): JobStore & {
  history: JobRecord[];
  /** Makes the next `times` updates (to state `to`, or any) throw, as a database that fails or times out does. */
  failUpdates(failure: UpdateFailure): void;
} {
  const jobs = new Map<string, JobRecord>();
  const failures: UpdateFailure[] = [];
  const history: JobRecord[] = [];
  const copy = (job: JobRecord): JobRecord => structuredClone(job);
  return {
    history,
    async create(input) {
      const same = [...jobs.values()].find(
        (job) =>
          input.idempotencyKey !== undefined &&
          job.tenant === input.tenant &&
          job.idempotencyKey === input.idempotencyKey,
      );
      if (same) return { job: copy(same), created: false };
      const job: JobRecord = {
        ...input,
        state: "queued",
        result: undefined,
        error: undefined,
        progress: 0,
        attempts: 0,
        nextAttemptAt: undefined,
        updatedAt: input.createdAt,
        finishedAt: undefined,
        deliveries: [],
      };
      jobs.set(job.id, job);
      history.push(copy(job));
      return { job: copy(job), created: true };
    },
    async get(id) {
      const job = jobs.get(id);
      return job && copy(job);
    },
    async list({ tenant, state, limit }) {
      const found = [...jobs.values()]
        .filter((job) => job.tenant === tenant && (state === undefined || job.state === state))
        .reverse()
        .slice(0, limit);
      return { jobs: found.map(copy), nextCursor: undefined };
    },
    async listStrandedBefore(before, limit) {
      return [...jobs.values()]
        .filter((job) =>
          job.state === "retrying"
            ? job.nextAttemptAt !== undefined && job.nextAttemptAt < before
            : (job.state === "queued" || job.state === "active") && job.updatedAt < before,
        )
        .sort((a, b) => a.updatedAt.getTime() - b.updatedAt.getTime())
        .slice(0, limit)
        .map(copy);
    },
    failUpdates(failure) {
      failures.push({ ...failure });
    },
    async update(id, from, patch, condition) {
      const failure = failures.find((entry) => entry.times > 0 && (!entry.to || entry.to === patch.state));
      if (failure) {
        failure.times--;
        // A timeout seen by the client of an UPDATE the database still commits.
        if (failure.afterApplying) await apply(id, from, patch, condition);
        throw new Error(failure.message ?? "Query read timeout");
      }
      return apply(id, from, patch, condition);
    },
    async addDelivery(id, delivery) {
      jobs.get(id)?.deliveries.push(delivery);
    },
  };

  async function apply(...[id, from, patch, condition]: Parameters<JobStore["update"]>) {
    const job = jobs.get(id);
    if (!job || !from.includes(job.state)) return undefined;
    const { expectedAttempts } = condition ?? {};
    if (expectedAttempts !== undefined && job.attempts !== expectedAttempts) return undefined;
    const { result, error, nextAttemptAt, finishedAt, ...rest } = patch;
    Object.assign(job, rest);
    if (result !== undefined) job.result = result ?? undefined;
    if (error !== undefined) job.error = error ?? undefined;
    if (nextAttemptAt !== undefined) job.nextAttemptAt = nextAttemptAt ?? undefined;
    if (finishedAt !== undefined) job.finishedAt = finishedAt ?? undefined;
    history.push(copy(job));
    return copy(job);
  }
}
