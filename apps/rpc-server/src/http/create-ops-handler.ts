import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { type Authenticator, type Principal, type RateLimiter, requireScope } from "@noa/access";
import { bearerMatches, elapsedMs, type ReadinessReport, ROOT_CONTEXT } from "@noa/observability";
import type { CircuitState, ModelInfo, ModelRegistry } from "@noa/providers";
import type { Logger } from "pino";
import { admitCall } from "../call-accounting.js";
import type { GatewayMetrics } from "../create-metrics.js";
import { type HealthStatus, ServingStatus } from "../health-status.js";
import { setRateLimitHeaders } from "../rate-limit-headers.js";
import { correlationIdOf } from "../request-context.js";
import { RestRequestError } from "../rest/rest-request-error.js";
import { toOpenAIError } from "../rest/to-openai-error.js";
import { credentialsOf } from "./credentials-of.js";
import { logHttpRequest } from "./log-http-request.js";
import { sendJson } from "./send-json.js";

type Request = IncomingMessage | Http2ServerRequest;
type Response = ServerResponse | Http2ServerResponse;

/** The checks readiness runs, and the services whose gRPC health each one decides. */
const servicesByDependency: Record<string, string[]> = {
  models: ["noa.inference.v1.InferenceService"],
  database: [
    "noa.inference.v1.ApiKeyService",
    "noa.inference.v1.UsageService",
    "noa.inference.v1.JobService",
  ],
  redis: ["noa.inference.v1.JobService"],
};

export interface OpsHandlerDeps {
  /** Services that never serve here, whatever readiness says (jobs no worker can run): NOT_SERVING always. */
  neverServing?: ReadonlySet<string>;
  health: HealthStatus;
  registry: ModelRegistry;
  authenticator: Authenticator;
  /** The routes that need a key take one request from its bucket, as every API call does. */
  rateLimiter: RateLimiter;
  logger: Logger;
  /** main.ts: createReadiness over PostgreSQL, Redis and the models; without it, ready while serving. */
  readiness?: () => Promise<ReadinessReport>;
  metrics?: GatewayMetrics;
  /** When set, GET /metrics needs `Authorization: Bearer <metricsToken>`. */
  metricsToken?: string;
  /** Versions and configuration for GET /status (nothing secret). */
  status?: Record<string, unknown>;
  /** More for GET /health/detailed (e.g. queue depths). */
  details?: () => Promise<Record<string, unknown>>;
}

/**
 * The operations routes: `GET /health` (liveness), `GET /health/ready` (also `/ready`: 503 until every
 * dependency is usable, naming those that are not; it also sets each service's grpc.health.v1 status),
 * `GET /health/detailed` (admin key: uptime, memory, CPU, dependencies, models with breaker state),
 * `GET /status` (any valid key: versions and configuration), both taking a request from the key's bucket
 * like any API call, and `GET /metrics` (Prometheus; behind a bearer token when one is configured). HEAD
 * answers as GET without the body; other methods get 405 with `allow`. Each request is logged (logHttpRequest), not counted in the request metrics. Returns false for any
 * other path.
 */
export function createOpsHandler(deps: OpsHandlerDeps): {
  handle(req: Request, res: Response): boolean;
  /** Runs readiness and updates the gRPC health statuses; the server calls it periodically. */
  refresh(): Promise<ReadinessReport | undefined>;
} {
  const {
    health,
    registry,
    authenticator,
    rateLimiter,
    logger,
    readiness,
    metrics,
    metricsToken,
    status,
    details,
  } = deps;
  const neverServing = deps.neverServing ?? new Set<string>();
  const started = Date.now();

  async function refresh(): Promise<ReadinessReport | undefined> {
    if (!readiness) return undefined;
    const report = await readiness();
    metrics?.readiness(report);
    if (health.isShutDown) return report;
    const serving = (ok: boolean) => (ok ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
    const down = new Set<string>();
    for (const [dependency, state] of Object.entries(report.dependencies)) {
      if (state.status === "down")
        for (const service of servicesByDependency[dependency] ?? []) down.add(service);
    }
    for (const service of new Set(Object.values(servicesByDependency).flat())) {
      health.set(service, serving(!down.has(service) && !neverServing.has(service)));
    }
    health.set("", serving(report.ready));
    return report;
  }

  const routes: Record<string, OpsRoute> = {
    "/health": {
      probe: true,
      async serve(req, res) {
        const serving = !health.isShutDown;
        send(req, res, serving ? 200 : 503, { status: serving ? "ok" : "shutting down" });
      },
    },
    "/health/ready": {
      probe: true,
      async serve(req, res) {
        const report = await refresh();
        const ready = !health.isShutDown && (report?.ready ?? true);
        const state = health.isShutDown ? "shutting down" : ready ? "ready" : "not ready";
        send(req, res, ready ? 200 : 503, { status: state, ...report });
      },
    },
    "/health/detailed": {
      probe: false,
      async serve(req, res) {
        const principal = await authenticate(req, res);
        requireScope(principal, "admin");
        const [report, models, extra] = await Promise.all([
          readiness?.(),
          registry.listModels(),
          details?.() ?? Promise.resolve({}),
        ]);
        const memory = process.memoryUsage();
        const cpu = process.cpuUsage();
        send(req, res, 200, {
          status: health.isShutDown ? "shutting down" : report && !report.ready ? "not ready" : "ready",
          uptimeS: Math.round((Date.now() - started) / 1000),
          memory: { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, externalBytes: memory.external },
          cpu: { userS: cpu.user / 1e6, systemS: cpu.system / 1e6 },
          ...report,
          models: models.map((model) => ({
            id: model.id,
            provider: model.provider,
            loaded: model.loaded,
            ...(model.targets ? { targets: model.targets } : {}),
            ...circuitOf(model),
          })),
          ...extra,
        });
      },
    },
    "/status": {
      probe: false,
      async serve(req, res) {
        await authenticate(req, res);
        send(req, res, 200, { node: process.version, ...status });
      },
    },
    "/metrics": {
      probe: true,
      async serve(req, res) {
        if (!metrics) return send(req, res, 404, { error: { message: "metrics are not enabled" } });
        if (metricsToken && !bearerMatches(req.headers.authorization, metricsToken)) {
          return send(req, res, 401, {
            error: { message: "GET /metrics needs Authorization: Bearer <NOA_METRICS_TOKEN>" },
          });
        }
        const text = await metrics.registry.metrics();
        res.writeHead(200, {
          "content-type": metrics.registry.contentType,
          "content-length": Buffer.byteLength(text),
        });
        if (req.method === "HEAD") res.end();
        else res.end(text);
      },
    },
  };
  routes["/ready"] = routes["/health/ready"] as OpsRoute;

  /**
   * The caller, once it has taken a request from its bucket (429 with `retry-after` when it is empty);
   * the answer says where the bucket stands (`x-ratelimit-*-requests`), as the REST face's do.
   */
  async function authenticate(req: Request, res: Response): Promise<Principal> {
    const principal = await authenticator.authenticate(credentialsOf(req));
    setRateLimitHeaders(res, await admitCall(rateLimiter, principal, ROOT_CONTEXT, { checkTokens: false }));
    return principal;
  }

  async function serve(req: Request, res: Response, path: string, route: OpsRoute): Promise<void> {
    const startedAt = performance.now();
    const correlationId = correlationIdOf(req);
    const method = req.method ?? "GET";
    try {
      if (method !== "GET" && method !== "HEAD") {
        throw new RestRequestError(405, `${path} accepts ${allowedMethods}, not ${method}`, {
          code: "method_not_allowed",
          headers: { allow: allowedMethods },
        });
      }
      await route.serve(req, res);
    } catch (error) {
      // The REST face's mapping: status, OpenAI's error body with the correlation id, bugs logged.
      const { status, headers, body } = toOpenAIError(error, { correlationId, logger });
      send(req, res, status, body, headers);
    } finally {
      const status = res.headersSent ? res.statusCode : 499;
      // Probes that pass go at debug: a kubelet or a scraper would otherwise write a line every few seconds.
      const level = route.probe && status === 200 ? "debug" : "info";
      const ms = elapsedMs(startedAt);
      // Logged, not counted: probes and scrapes are not API traffic, and a readiness 503 while models load
      // or Redis is away would otherwise count as failed requests in the error-rate alert.
      logHttpRequest({ logger }, { correlationId, method, route: path, status, ms }, level);
    }
  }

  return {
    refresh,
    handle(req, res) {
      const path = req.url?.split("?")[0] ?? "/";
      const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
      if (!route) return false;
      serve(req, res, path, route).catch((error: unknown) => {
        logger.error({ err: error }, "operations request handling failed");
        res.destroy?.();
      });
      return true;
    },
  };
}

/** Every ops route is read-only: GET and HEAD, which general-purpose servers must support (RFC 9110 §9.1). */
const allowedMethods = "GET, HEAD";

/** One operations route; a probe's successful answers are logged at debug. */
interface OpsRoute {
  probe: boolean;
  serve(req: Request, res: Response): Promise<void>;
}

/**
 * A model's breaker state: its breaker's, or `closed` for a routed target not called yet (the router makes
 * its breaker on the first call, and a new breaker is closed). Route aliases have no breaker of their own.
 */
function circuitOf(model: ModelInfo): { circuit?: CircuitState } {
  if (model.circuit) return { circuit: model.circuit.state };
  return model.targets ? {} : { circuit: "closed" };
}

/** Answers JSON, never cached. */
function send(
  req: Request,
  res: Response,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  sendJson(req, res, status, body, { "cache-control": "no-store", ...headers });
}
