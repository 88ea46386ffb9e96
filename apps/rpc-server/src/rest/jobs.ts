import type { ServerResponse } from "node:http";
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Principal, requireScope } from "@noa/access";
import { fromProtoState, toJobJson } from "@noa/jobs";
import { JobState, type SubmitJobRequest, SubmitJobRequestSchema } from "@noa/proto";
import { type JobFaceDeps, retryJob, submitJob, toJobConnectError } from "../services/job-service.js";
import { type BodyLimits, readJsonBody } from "./read-json-body.js";
import type { RestExchange } from "./rest-exchange.js";
import { invalidParam } from "./rest-request-error.js";
import { safeDecode } from "./safe-decode.js";

type Action = (exchange: RestExchange, principal: Principal, param: string) => Promise<void>;

/** A REST route of the jobs API: its template for logs and its action per method. */
export interface JobRoute {
  template: string;
  methods: Partial<Record<string, Action>>;
}

const prefix = "/v1/jobs";

/** The routes of `/v1/jobs`, for the REST face. */
export const jobRouteList =
  "POST /v1/jobs, GET /v1/jobs, GET /v1/jobs/{id}, GET /v1/jobs/{id}/events, POST /v1/jobs/{id}/cancel and POST /v1/jobs/{id}/retry";

/**
 * The jobs API over REST, mirroring JobService in the contract's canonical JSON (the bodies of
 * SubmitJobRequest, GetJobResponse…; snake_case or camelCase field names, enum names as strings):
 * `POST /v1/jobs` submits (201, or 200 for an idempotent repeat), `GET /v1/jobs?state=&page_size=&page_token=`
 * lists, `GET /v1/jobs/{id}` gets, `GET /v1/jobs/{id}/events` watches as server-sent events,
 * `POST /v1/jobs/{id}/cancel` and `/retry` act. Errors go through the REST face's one mapper.
 */
export function createJobRoutes(deps: JobFaceDeps & { limits: BodyLimits }) {
  const { jobs } = deps;
  const guarded =
    (action: Action): Action =>
    async (exchange, principal, param) => {
      requireScope(principal, "jobs");
      try {
        await action(exchange, principal, param);
      } catch (error) {
        throw toJobConnectError(error);
      }
    };

  const collection: JobRoute = {
    template: prefix,
    methods: {
      POST: async (exchange, principal) => {
        requireScope(principal, "jobs");
        const body = await readJsonBody(exchange.req, deps.limits);
        let request: SubmitJobRequest;
        try {
          request = fromJson(SubmitJobRequestSchema, body as JsonValue);
        } catch (error) {
          throw new ConnectError(
            `the body is not a SubmitJobRequest: ${(error as Error).message}`,
            Code.InvalidArgument,
          );
        }
        const { job, deduplicated } = await submitJob(deps, principal, request, {
          correlationId: exchange.correlationId,
          signal: exchange.signal,
          traceContext: exchange.traceContext,
        });
        exchange.sendJson(deduplicated ? 200 : 201, { job: toJobJson(job), deduplicated });
      },
      GET: guarded(async (exchange, principal) => {
        const query = new URL(exchange.req.url ?? "/", "http://localhost").searchParams;
        const stateName = query.get("state") ?? "";
        const state =
          stateName === ""
            ? JobState.UNSPECIFIED
            : JobState[stateName.replace(/^JOB_STATE_/i, "").toUpperCase() as keyof typeof JobState];
        if (state === undefined) {
          throw invalidParam(
            `state must be one of ${Object.keys(JobState)
              .filter((name) => Number.isNaN(Number(name)))
              .map((name) => `JOB_STATE_${name}`)
              .join(", ")} (got "${stateName}")`,
            "state",
          );
        }
        const pageSize = Number(query.get("page_size") ?? "0");
        if (!Number.isInteger(pageSize)) throw invalidParam("page_size must be an integer", "page_size");
        const page = await jobs.list({
          tenant: principal.tenant,
          state: fromProtoState(state),
          pageSize,
          pageToken: query.get("page_token") || undefined,
        });
        // Built by hand rather than with toJson, which leaves out an empty `jobs` list.
        exchange.sendJson(200, { jobs: page.jobs.map(toJobJson), nextPageToken: page.nextPageToken ?? "" });
      }),
    },
  };
  const one: JobRoute = {
    template: `${prefix}/{id}`,
    methods: {
      GET: guarded(async (exchange, principal, id) => {
        exchange.sendJson(200, { job: toJobJson(await jobs.get(principal.tenant, id)) });
      }),
    },
  };
  const act = (name: "cancel" | "retry"): JobRoute => ({
    template: `${prefix}/{id}/${name}`,
    methods: {
      POST: guarded(async (exchange, principal, id) => {
        const job =
          name === "cancel"
            ? await jobs.cancel(principal.tenant, id, exchange.traceContext)
            : await retryJob(deps, principal, id, exchange.traceContext);
        exchange.sendJson(200, { job: toJobJson(job) });
      }),
    },
  });
  const events: JobRoute = {
    template: `${prefix}/{id}/events`,
    methods: {
      GET: guarded(async (exchange, principal, id) => {
        const watch = jobs.watch(principal.tenant, id, exchange.signal);
        // The first read happens before the headers, so an unknown job is still a plain 404.
        const first = await watch.next();
        // node's http and http2 responses differ only in `write`'s callback type.
        const res = exchange.res as ServerResponse;
        res.writeHead(200, {
          "content-type": "text/event-stream",
          "cache-control": "no-cache",
        });
        if (exchange.req.method === "HEAD") {
          // The headers are the whole answer: no watch is kept open for a body nobody reads.
          await watch.return(undefined);
          res.end();
          return;
        }
        if (!first.done) res.write(`data: ${JSON.stringify({ job: toJobJson(first.value) })}\n\n`);
        for await (const job of watch) {
          res.write(`data: ${JSON.stringify({ job: toJobJson(job) })}\n\n`);
        }
        res.end();
      }),
    },
  };
  const actions = new Map<string, JobRoute>([
    ["cancel", act("cancel")],
    ["retry", act("retry")],
    ["events", events],
  ]);

  return {
    /** The route for a path under /v1/jobs and its `{id}`, or undefined. */
    match(path: string): { route: JobRoute; param: string } | undefined {
      if (path === prefix || path === `${prefix}/`) return { route: collection, param: "" };
      if (!path.startsWith(`${prefix}/`)) return undefined;
      const [id = "", action, ...rest] = path.slice(prefix.length + 1).split("/");
      if (id === "" || rest.length > 0) return undefined;
      const route = action === undefined ? one : actions.get(action);
      return route ? { route, param: safeDecode(id) } : undefined;
    },
  };
}
