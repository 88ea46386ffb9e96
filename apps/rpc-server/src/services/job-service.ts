import { create, type DescEnum } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { type Principal, requireModel, requireScope } from "@noa/access";
import {
  fromProtoPriority,
  fromProtoState,
  JobError,
  type JobErrorCode,
  type JobService as Jobs,
  type JsonValue,
  toProtoJob,
} from "@noa/jobs";
import type { Context } from "@noa/observability";
import {
  CancelJobResponseSchema,
  GetJobResponseSchema,
  JobPrioritySchema,
  type JobService,
  JobStateSchema,
  ListJobsResponseSchema,
  RetryJobResponseSchema,
  type SubmitJobRequest,
  SubmitJobResponseSchema,
  WatchJobResponseSchema,
} from "@noa/proto";
import { BadRequestSchema } from "@noa/proto/google/rpc";
import type { CallSignal, ModelRegistry } from "@noa/providers";
import { limitKeyOf } from "../call-accounting.js";
import { parseCompletionRequest } from "../parse-completion-request.js";
import { correlationIdKey, principalOf, traceContextKey } from "../request-context.js";

/** What the job faces (Connect and REST) need. */
export interface JobFaceDeps {
  jobs: Jobs;
  /** Checks at submission that an inference job's model exists (NOT_FOUND rather than a failed job later). */
  registry: Pick<ModelRegistry, "languageModel">;
}

const codes: Record<JobErrorCode, Code> = {
  "invalid-argument": Code.InvalidArgument,
  "not-found": Code.NotFound,
  "failed-precondition": Code.FailedPrecondition,
  unavailable: Code.Unavailable,
};

/** The job service's own errors as ConnectErrors (a BadRequest detail names the field), for both faces' mappers. */
export function toJobConnectError(error: unknown): unknown {
  if (!(error instanceof JobError)) return error;
  const details = error.field
    ? [
        {
          desc: BadRequestSchema,
          value: create(BadRequestSchema, {
            fieldViolations: [{ field: error.field, description: error.message }],
          }),
        },
      ]
    : [];
  return new ConnectError(error.message, codes[error.code], undefined, details, error);
}

async function mapped<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw toJobConnectError(error);
  }
}

/**
 * Submits a job for `principal` after the checks only the server can make: the jobs scope, and for an
 * inference job the inference scope too, the same request rules as Complete, the key's model allow-list and
 * the model's existence. Both faces have already admitted the submission against the key's limits, as a
 * completion is (a request from its bucket, none while its token budget is spent: the worker charges what
 * inference jobs use).
 */
export async function submitJob(
  deps: JobFaceDeps,
  principal: Principal,
  request: SubmitJobRequest,
  context: { correlationId: string; signal: CallSignal; traceContext: Context },
) {
  requireScope(principal, "jobs");
  if (request.spec?.kind.case === "inference") {
    // An inference job is a completion run later: it needs what Complete needs, or `jobs` alone buys inference.
    requireScope(principal, "inference");
    const { model } = parseCompletionRequest(request.spec.kind.value, context.signal);
    requireModel(principal, model);
    deps.registry.languageModel(model);
  }
  if (!request.spec) {
    throw toJobConnectError(
      new JobError(
        "invalid-argument",
        "spec is required: set exactly one of inference (ai-inference), notification or usage_export (data-processing)",
        { field: "spec" },
      ),
    );
  }
  return mapped(() =>
    deps.jobs.submit({
      tenant: principal.tenant,
      apiKeyId: principal.kind === "key" ? principal.id : undefined,
      tokenBudget: { key: limitKeyOf(principal), limits: principal.limits },
      correlationId: context.correlationId,
      spec: request.spec as NonNullable<SubmitJobRequest["spec"]>,
      priority: fromProtoPriority(knownEnum(request.priority, JobPrioritySchema, "priority")),
      callbackUrl: request.callbackUrl,
      idempotencyKey: request.idempotencyKey,
      traceContext: context.traceContext,
    }),
  );
}

/**
 * Runs a dead-lettered or failed job of the caller's tenant again. Retrying an inference job runs a
 * completion, as submitting one does: it needs the inference scope and its model on the key's allow-list
 * (or a key with `jobs` alone could rerun the inference jobs of its tenant's other keys).
 */
export async function retryJob(deps: JobFaceDeps, principal: Principal, id: string, traceContext: Context) {
  requireScope(principal, "jobs");
  const job = await deps.jobs.get(principal.tenant, id);
  if (job.type === "ai-inference") {
    requireScope(principal, "inference");
    const model = inferenceModelOf(job.spec);
    if (model !== undefined) requireModel(principal, model);
  }
  return deps.jobs.retry(principal.tenant, id, traceContext);
}

/** The model of an inference job's stored spec (JobSpec as proto JSON). */
function inferenceModelOf(spec: JsonValue): string | undefined {
  const inference =
    typeof spec === "object" && spec !== null && !Array.isArray(spec) ? spec.inference : undefined;
  const model =
    typeof inference === "object" && inference !== null && !Array.isArray(inference)
      ? inference.model
      : undefined;
  return typeof model === "string" ? model : undefined;
}

/** INVALID_ARGUMENT naming `field`, with the BadRequest detail both faces read. */
function invalidField(message: string, field: string): unknown {
  return toJobConnectError(new JobError("invalid-argument", message, { field }));
}

/** The job a request names; INVALID_ARGUMENT when it names none (rather than "job \"\" does not exist"). */
function jobIdOf(request: { id: string }): string {
  if (request.id.trim() === "")
    throw invalidField("id is required: the job's id, as SubmitJob returned it", "id");
  return request.id;
}

/** `value` when the contract's enum defines it; an unknown number is refused, not read as the default. */
function knownEnum<T extends number>(value: T, schema: DescEnum, field: string): T {
  if (schema.value[value] !== undefined) return value;
  const names = schema.values.filter((known) => known.number !== 0).map((known) => known.name);
  throw invalidField(`${field} must be one of ${names.join(", ")} (got ${value})`, field);
}

/** The caller, once it holds the jobs scope. */
function jobsCaller(context: HandlerContext): Principal {
  const principal = principalOf(context.values);
  requireScope(principal, "jobs");
  return principal;
}

/**
 * JobService: the Connect face of the job service. Every RPC needs the jobs scope and sees only the
 * caller's tenant (another tenant's job is NOT_FOUND). WatchJob streams the job at once and after every
 * change, wherever the change happened (a worker in another process), and ends after a final state.
 */
export function createJobRpcService(deps: JobFaceDeps): ServiceImpl<typeof JobService> {
  const { jobs } = deps;
  return {
    async submitJob(request, context) {
      const { job, deduplicated } = await submitJob(deps, principalOf(context.values), request, {
        correlationId: context.values.get(correlationIdKey),
        signal: context.signal,
        traceContext: context.values.get(traceContextKey),
      });
      return create(SubmitJobResponseSchema, { job: toProtoJob(job), deduplicated });
    },
    async getJob(request, context) {
      const { tenant } = jobsCaller(context);
      const id = jobIdOf(request);
      return create(GetJobResponseSchema, {
        job: toProtoJob(await mapped(() => jobs.get(tenant, id))),
      });
    },
    async listJobs(request, context) {
      const { tenant } = jobsCaller(context);
      const page = await mapped(() =>
        jobs.list({
          tenant,
          state: fromProtoState(knownEnum(request.state, JobStateSchema, "state")),
          pageSize: request.pageSize,
          pageToken: request.pageToken || undefined,
        }),
      );
      return create(ListJobsResponseSchema, {
        jobs: page.jobs.map(toProtoJob),
        nextPageToken: page.nextPageToken ?? "",
      });
    },
    async *watchJob(request, context) {
      const { tenant } = jobsCaller(context);
      const id = jobIdOf(request);
      try {
        for await (const job of jobs.watch(tenant, id, context.signal)) {
          yield create(WatchJobResponseSchema, { job: toProtoJob(job) });
        }
      } catch (error) {
        throw toJobConnectError(error);
      }
    },
    async cancelJob(request, context) {
      const { tenant } = jobsCaller(context);
      const id = jobIdOf(request);
      return create(CancelJobResponseSchema, {
        job: toProtoJob(await mapped(() => jobs.cancel(tenant, id, context.values.get(traceContextKey)))),
      });
    },
    async retryJob(request, context) {
      const principal = jobsCaller(context);
      const id = jobIdOf(request);
      const job = await mapped(() => retryJob(deps, principal, id, context.values.get(traceContextKey)));
      return create(RetryJobResponseSchema, { job: toProtoJob(job) });
    },
  };
}
