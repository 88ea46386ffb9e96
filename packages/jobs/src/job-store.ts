import type {
  JobFailure,
  JobPriorityName,
  JobRecord,
  JobStateName,
  JobTokenBudget,
  JobType,
  JsonValue,
  WebhookDeliveryRecord,
} from "./job-record.js";

/** What a submission stores. */
export interface NewJob {
  id: string;
  tenant: string;
  apiKeyId: string | undefined;
  tokenBudget: JobTokenBudget | undefined;
  type: JobType;
  priority: JobPriorityName;
  spec: JsonValue;
  maxAttempts: number;
  idempotencyKey: string | undefined;
  callbackUrl: string | undefined;
  correlationId: string;
  createdAt: Date;
}

/** A change of a job; `null` clears a field, an absent field stays as it is. */
export interface JobPatch {
  state?: JobStateName;
  progress?: number;
  attempts?: number;
  result?: JsonValue | null;
  error?: JobFailure | null;
  nextAttemptAt?: Date | null;
  finishedAt?: Date | null;
  updatedAt: Date;
}

/** What an update requires of the job besides its state. */
export interface JobUpdateCondition {
  /**
   * The job's `attempts` must still be this: the number of the run writing. Runs are counted as they
   * start, so a run whose write arrives after a later run started (its lock lost meanwhile) changes nothing.
   */
  expectedAttempts?: number;
}

/** Persistence of jobs; implemented in @noa/db (createPgJobStore). */
export interface JobStore {
  /**
   * Stores a new job, or, when the tenant already used its idempotency key, returns that job untouched
   * with `created: false` (also under concurrent submissions: the database decides).
   */
  create(job: NewJob): Promise<{ job: JobRecord; created: boolean }>;
  /** The job, with its webhook deliveries; undefined when there is none with this id. */
  get(id: string): Promise<JobRecord | undefined>;
  /** The tenant's jobs, newest first; `cursor` is a previous page's `nextCursor`. */
  list(query: {
    tenant: string;
    state: JobStateName | undefined;
    limit: number;
    cursor: string | undefined;
  }): Promise<{ jobs: JobRecord[]; nextCursor: string | undefined }>;
  /**
   * The sweep's candidates, of every tenant, oldest change first: jobs queued or active and unchanged since
   * `before`, and retrying jobs whose next attempt was due before `before`.
   */
  listStrandedBefore(before: Date, limit: number): Promise<JobRecord[]>;
  /**
   * Applies `patch` only when the job is in one of the `from` states (a compare-and-set, so a cancelled
   * job never turns completed) and meets `condition`; returns the job after the change, or undefined when
   * nothing changed.
   */
  update(
    id: string,
    from: readonly JobStateName[],
    patch: JobPatch,
    condition?: JobUpdateCondition,
  ): Promise<JobRecord | undefined>;
  /** Records one webhook attempt. */
  addDelivery(id: string, delivery: WebhookDeliveryRecord): Promise<void>;
}
