import type { JobRecord } from "../job-record.js";
import type { JobStore } from "../job-store.js";

/**
 * A JobStore in a Map, with the compare-and-set `update` PostgreSQL's store has; `history` keeps a copy of
 * each job after every change, so a test sees every state a watcher could have read.
 */
export function createInMemoryJobStore(): JobStore & { history: JobRecord[] } {
  const jobs = new Map<string, JobRecord>();
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
    async listQueuedBefore(before, limit) {
      return [...jobs.values()]
        .filter((job) => job.state === "queued" && job.updatedAt < before)
        .slice(0, limit)
        .map(copy);
    },
    async update(id, from, patch) {
      const job = jobs.get(id);
      if (!job || !from.includes(job.state)) return undefined;
      const { result, error, nextAttemptAt, finishedAt, ...rest } = patch;
      Object.assign(job, rest);
      if (result !== undefined) job.result = result ?? undefined;
      if (error !== undefined) job.error = error ?? undefined;
      if (nextAttemptAt !== undefined) job.nextAttemptAt = nextAttemptAt ?? undefined;
      if (finishedAt !== undefined) job.finishedAt = finishedAt ?? undefined;
      history.push(copy(job));
      return copy(job);
    },
    async addDelivery(id, delivery) {
      jobs.get(id)?.deliveries.push(delivery);
    },
  };
}
