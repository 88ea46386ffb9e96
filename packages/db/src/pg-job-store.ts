import type {
  JobFailure,
  JobPatch,
  JobRecord,
  JobStore,
  JobTokenBudget,
  JobType,
  JsonValue,
} from "@noa/jobs";
import type pg from "pg";

/** A `jobs` row as selected below: timestamps as instants, deliveries aggregated. */
interface Row {
  id: string;
  seq: string;
  tenant: string;
  api_key_id: string | null;
  token_budget: JobTokenBudget | null;
  type: string;
  priority: JobRecord["priority"];
  state: JobRecord["state"];
  spec: JsonValue;
  result: JsonValue | null;
  error_code: string | null;
  error_message: string | null;
  error_retryable: boolean | null;
  progress: number;
  attempts: number;
  max_attempts: number;
  next_attempt_at: Date | null;
  idempotency_key: string | null;
  callback_url: string | null;
  correlation_id: string;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
  deliveries: Array<{
    attempt: number;
    status_code: number;
    error: string | null;
    delivered: boolean;
    at: string;
  }>;
}

// Columns are `timestamp(3)` holding UTC (as Prisma writes them): read as instants with AT TIME ZONE
// 'UTC', written as ISO strings (whose `Z` a timestamp column ignores, keeping the UTC wall time).
const columns = `
  j.id, j.seq::text AS seq, j.tenant, j.api_key_id, j.token_budget, j.type, j.priority::text AS priority,
  j.state::text AS state, j.spec, j.result, j.error_code, j.error_message, j.error_retryable, j.progress,
  j.attempts, j.max_attempts, j.next_attempt_at AT TIME ZONE 'UTC' AS next_attempt_at, j.idempotency_key,
  j.callback_url, j.correlation_id, j.created_at AT TIME ZONE 'UTC' AS created_at,
  j.updated_at AT TIME ZONE 'UTC' AS updated_at, j.finished_at AT TIME ZONE 'UTC' AS finished_at,
  COALESCE((SELECT json_agg(json_build_object(
      'attempt', d.attempt, 'status_code', d.status_code, 'error', d.error, 'delivered', d.delivered,
      'at', to_char(d.created_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
    ORDER BY d.created_at, d.attempt)
    FROM webhook_deliveries d WHERE d.job_id = j.id), '[]') AS deliveries`;

/**
 * {@link JobStore} in SQL on the `pg` pool under Prisma (tables from prisma/schema.prisma and its
 * migrations). Jobs are the hot path, and Prisma's WebAssembly query compiler costs milliseconds of CPU
 * per query here (docs/benchmarks.md, Jobs), so each operation is one statement: idempotency rests on
 * the unique (tenant, idempotency_key) index (`ON CONFLICT DO NOTHING`), so concurrent submissions
 * with one key make one job; state changes are compare-and-set on the current state (`UPDATE … WHERE
 * state = ANY(…) RETURNING`), so a cancelled job is never completed after all, and, when asked, on its
 * attempts, so a run's late write never lands on the record of a run that took the job over.
 */
export function createPgJobStore(pool: pg.Pool): JobStore {
  async function one(sql: string, values: unknown[]): Promise<JobRecord | undefined> {
    const { rows } = await pool.query<Row>(sql, values);
    return rows[0] && toRecord(rows[0]);
  }

  return {
    async create(job) {
      const created = await one(
        `WITH j AS (
           INSERT INTO jobs (id, tenant, api_key_id, type, priority, spec, max_attempts, idempotency_key,
                             callback_url, correlation_id, created_at, updated_at, token_budget)
           VALUES ($1, $2, $3, $4, $5::job_priority, $6::jsonb, $7, $8, $9, $10, $11::timestamp, $11::timestamp,
                   $12::jsonb)
           ON CONFLICT (tenant, idempotency_key) DO NOTHING
           RETURNING *)
         SELECT ${columns} FROM j`,
        [
          job.id,
          job.tenant,
          job.apiKeyId ?? null,
          job.type,
          job.priority,
          JSON.stringify(job.spec),
          job.maxAttempts,
          job.idempotencyKey ?? null,
          job.callbackUrl ?? null,
          job.correlationId,
          job.createdAt.toISOString(),
          job.tokenBudget ? JSON.stringify(job.tokenBudget) : null,
        ],
      );
      if (created) return { job: created, created: true };
      // Only a used idempotency key conflicts (NULL keys never do).
      const existing = await one(
        `SELECT ${columns} FROM jobs j WHERE j.tenant = $1 AND j.idempotency_key = $2`,
        [job.tenant, job.idempotencyKey],
      );
      if (!existing) throw new Error("job insert conflicted but no job holds its idempotency key");
      return { job: existing, created: false };
    },

    get: (id) => one(`SELECT ${columns} FROM jobs j WHERE j.id = $1`, [id]),

    async list({ tenant, state, limit, cursor }) {
      const { rows } = await pool.query<Row>(
        `SELECT ${columns} FROM jobs j
          WHERE j.tenant = $1 AND ($2::job_state IS NULL OR j.state = $2::job_state)
            AND ($3::bigint IS NULL OR j.seq < $3::bigint)
          ORDER BY j.seq DESC LIMIT $4`,
        [tenant, state ?? null, cursor ?? null, limit + 1],
      );
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return { jobs: page.map(toRecord), nextCursor: rows.length > limit && last ? last.seq : undefined };
    },

    async listStrandedBefore(before, limit) {
      const { rows } = await pool.query<Row>(
        `SELECT ${columns} FROM jobs j
          WHERE (j.state IN ('queued'::job_state, 'active'::job_state) AND j.updated_at < $1::timestamp)
             OR (j.state = 'retrying'::job_state AND j.next_attempt_at < $1::timestamp)
          ORDER BY j.updated_at LIMIT $2`,
        [before.toISOString(), limit],
      );
      return rows.map(toRecord);
    },

    update(id, from, patch, condition) {
      const { assignments, values } = toAssignments(patch);
      return one(
        `WITH j AS (
           UPDATE jobs SET ${assignments.join(", ")}
            WHERE id = $1 AND state = ANY($2::job_state[]) AND ($3::integer IS NULL OR attempts = $3::integer)
           RETURNING *)
         SELECT ${columns} FROM j`,
        [id, [...from], condition?.expectedAttempts ?? null, ...values],
      );
    },

    async addDelivery(id, delivery) {
      await pool.query(
        `INSERT INTO webhook_deliveries (id, job_id, attempt, status_code, error, delivered, created_at)
         VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6::timestamp)`,
        [
          id,
          delivery.attempt,
          delivery.statusCode,
          delivery.error ?? null,
          delivery.delivered,
          delivery.at.toISOString(),
        ],
      );
    },
  };
}

/**
 * `SET` assignments for a patch; parameters start at $4 ($1 is the id, $2 the expected states, $3 the
 * expected attempts).
 */
function toAssignments(patch: JobPatch): { assignments: string[]; values: unknown[] } {
  const assignments: string[] = [];
  const values: unknown[] = [];
  const set = (column: string, value: unknown, cast = "") => {
    values.push(value);
    assignments.push(`${column} = $${values.length + 3}${cast}`);
  };
  const time = (value: Date | null) => (value === null ? null : value.toISOString());
  set("updated_at", patch.updatedAt.toISOString(), "::timestamp");
  if (patch.state !== undefined) set("state", patch.state, "::job_state");
  if (patch.progress !== undefined) set("progress", patch.progress);
  if (patch.attempts !== undefined) set("attempts", patch.attempts);
  if (patch.result !== undefined)
    set("result", patch.result === null ? null : JSON.stringify(patch.result), "::jsonb");
  if (patch.error !== undefined) {
    set("error_code", patch.error?.code ?? null);
    set("error_message", patch.error?.message ?? null);
    set("error_retryable", patch.error?.retryable ?? null);
  }
  if (patch.nextAttemptAt !== undefined) set("next_attempt_at", time(patch.nextAttemptAt), "::timestamp");
  if (patch.finishedAt !== undefined) set("finished_at", time(patch.finishedAt), "::timestamp");
  return { assignments, values };
}

function toRecord(row: Row): JobRecord {
  const error: JobFailure | undefined =
    row.error_code === null
      ? undefined
      : { code: row.error_code, message: row.error_message ?? "", retryable: row.error_retryable ?? false };
  return {
    id: row.id,
    tenant: row.tenant,
    apiKeyId: row.api_key_id ?? undefined,
    tokenBudget: row.token_budget ?? undefined,
    // Written only by `create`, from the service's job types.
    type: row.type as JobType,
    priority: row.priority,
    state: row.state,
    spec: row.spec,
    result: row.result ?? undefined,
    error,
    progress: row.progress,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    nextAttemptAt: row.next_attempt_at ?? undefined,
    idempotencyKey: row.idempotency_key ?? undefined,
    callbackUrl: row.callback_url ?? undefined,
    correlationId: row.correlation_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at ?? undefined,
    deliveries: row.deliveries.map((delivery) => ({
      attempt: delivery.attempt,
      statusCode: delivery.status_code,
      error: delivery.error ?? undefined,
      delivered: delivery.delivered,
      at: new Date(delivery.at),
    })),
  };
}
