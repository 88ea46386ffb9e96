import { setMaxListeners } from "node:events";
import type { AddressInfo } from "node:net";
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ApiKeyService as ApiKeys, Authenticator, UsageStore } from "@noa/access";
import type { JobService as Jobs } from "@noa/jobs";
import { correlationIdHeader, instrumentModelRegistry, type ReadinessReport } from "@noa/observability";
import {
  ApiKeyService,
  file_noa_inference_v1_api_key,
  file_noa_inference_v1_inference,
  file_noa_inference_v1_job,
  file_noa_inference_v1_model,
  file_noa_inference_v1_usage,
  InferenceService,
  JobService,
  ModelService,
  UsageService,
} from "@noa/proto";
import { file_grpc_health_v1_health, Health } from "@noa/proto/grpc/health/v1";
import { file_grpc_reflection_v1_reflection, ServerReflection } from "@noa/proto/grpc/reflection/v1";
import type { ModelRegistry } from "@noa/providers";
import type { Logger } from "pino";
import { createAuthInterceptor } from "./auth-interceptor.js";
import type { AccountingDeps } from "./call-accounting.js";
import { type CompletionCacheDeps, createCompletionService } from "./completion-service.js";
import type { GatewayMetrics } from "./create-metrics.js";
import { createRpcHandler } from "./create-rpc-handler.js";
import { createHealthStatus, ServingStatus } from "./health-status.js";
import { type CorsOrigins, createCors } from "./http/create-cors.js";
import { createNotFoundHandler } from "./http/create-not-found-handler.js";
import { createOpsHandler } from "./http/create-ops-handler.js";
import { setSecurityHeaders } from "./http/security-headers.js";
import { createOnePortServer } from "./one-port-server.js";
import { correlationIdOf } from "./request-context.js";
import { createRequestInterceptor } from "./request-interceptor.js";
import { createRestHandler } from "./rest/create-rest-handler.js";
import { createApiKeyRpcService } from "./services/api-key-service.js";
import { createHealthService } from "./services/health-service.js";
import { createInferenceService } from "./services/inference-service.js";
import { createJobRpcService } from "./services/job-service.js";
import { createModelService } from "./services/model-service.js";
import { createReflectionService } from "./services/reflection-service.js";
import { createUsageRpcService } from "./services/usage-service.js";

/** What the server needs, built by the composition root (main.ts) or by a test. */
export interface ServerDeps {
  registry: ModelRegistry;
  logger: Logger;
  /** Largest request message accepted, in bytes. */
  readMaxBytes?: number;
  /** Log each completion's prompt and answer (NOA_LOG_CONTENT); off by default. */
  logContent?: boolean;
  /** Recorded by every face and served at GET /metrics; main.ts builds it with createMetrics. */
  metrics?: GatewayMetrics;
  /** HTTP hygiene for every route on the port (main.ts reads CORS_ORIGIN, NOA_MAX_BODY_BYTES, NOA_REQUEST_TIMEOUT_MS). */
  http?: {
    /** Browser origins allowed by CORS; undefined: no CORS headers. */
    corsOrigins?: CorsOrigins;
    /** Largest REST request body, in bytes (413 beyond). Default 1 MiB. */
    maxBodyBytes?: number;
    /** How long a client may take to send a whole request (408 after); 0: no limit. Default 30 s. */
    requestTimeoutMs?: number;
  };
  /** Served at GET /health/ready (main.ts: createReadiness); without it, ready while serving. */
  readiness?: () => Promise<ReadinessReport>;
  /** How often readiness runs to update grpc.health.v1 statuses. Default 5 s. */
  readinessIntervalMs?: number;
  /** When set, GET /metrics needs `Authorization: Bearer <metricsToken>`. */
  metricsToken?: string;
  /** Versions and configuration for GET /status (nothing secret). */
  status?: Record<string, unknown>;
  /** More for GET /health/detailed (e.g. queue depths). */
  details?: () => Promise<Record<string, unknown>>;
  /** Who may call and what they used: authentication, key management, rate limits, the usage ledger. */
  access: {
    authenticator: Authenticator;
    apiKeys: ApiKeys;
    usage: Pick<UsageStore, "summarize">;
    accounting: Omit<AccountingDeps, "logger">;
  };
  /** The response cache and request coalescing under both faces (main.ts: NOA_CACHE_*); undefined: none. */
  cache?: CompletionCacheDeps;
  /** The job service (main.ts builds it over PostgreSQL and BullMQ); undefined: JobService and /v1/jobs are not served. */
  jobs?: Jobs;
}

/** A built, not yet listening, rpc-server. */
export interface RpcServer {
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Reports NOT_SERVING, stops accepting, lets in-flight calls finish for `graceMs`, then ends them with UNAVAILABLE. */
  close(options: { graceMs: number }): Promise<void>;
}

/**
 * Builds the one-port server: gRPC, gRPC-Web and Connect for every service, the OpenAI-compatible REST
 * API under /v1, GET /health, /ready and /metrics; security headers and CORS on all of them.
 */
export function build({
  registry: models,
  logger,
  readMaxBytes = 4 * 1024 * 1024,
  logContent = false,
  readiness,
  readinessIntervalMs = 5_000,
  metricsToken,
  status,
  details,
  metrics,
  access,
  http = {},
  cache,
  jobs,
}: ServerDeps): RpcServer {
  const { corsOrigins, maxBodyBytes = 1024 * 1024, requestTimeoutMs = 30_000 } = http;
  const health = createHealthStatus([
    InferenceService.typeName,
    ModelService.typeName,
    ApiKeyService.typeName,
    UsageService.typeName,
    ...(jobs ? [JobService.typeName] : []),
  ]);
  // JobService on a database no worker can reach refuses every submission: gRPC health says so.
  const neverServing = new Set(jobs?.notRunnable ? [JobService.typeName] : []);
  for (const service of neverServing) health.set(service, ServingStatus.NOT_SERVING);
  const shutdown = new AbortController();
  // Every call in flight links its own signal to this one (Connect's handler context) until it ends: any
  // number of listeners is expected, and Node's "possible memory leak" warning past 10 would be false.
  setMaxListeners(0, shutdown.signal);
  const registry = instrumentModelRegistry(models, metrics);
  const { authenticator } = access;
  const { ledger } = access.accounting;
  const completions = createCompletionService({
    registry,
    logger,
    accounting: {
      ...access.accounting,
      ledger: metrics
        ? {
            record(record) {
              // The ledger first: a metric that refuses a value never costs a usage row.
              ledger.record(record);
              metrics.usage(record);
            },
          }
        : ledger,
      logger,
    },
    cache,
    logContent,
  });
  const rest = createRestHandler({
    completions,
    registry,
    authenticator,
    logger,
    metrics,
    shutdownSignal: shutdown.signal,
    limits: { maxBytes: maxBodyBytes, timeoutMs: requestTimeoutMs },
    jobs,
    rateLimiter: access.accounting.rateLimiter,
  });
  const ops = createOpsHandler({
    health,
    neverServing,
    registry,
    authenticator,
    rateLimiter: access.accounting.rateLimiter,
    logger,
    readiness,
    metrics,
    metricsToken,
    status,
    details,
  });
  const cors = createCors(corsOrigins);
  // What the router serves, so that an unknown procedure's answer can say whether its service is known.
  const routed = new Set<DescService>();
  const handler = createRpcHandler({
    routes(router) {
      router.service(InferenceService, createInferenceService({ completions }));
      router.service(ModelService, createModelService({ registry }));
      router.service(
        ApiKeyService,
        createApiKeyRpcService({ apiKeys: access.apiKeys, authenticator: access.authenticator }),
      );
      router.service(UsageService, createUsageRpcService({ usage: access.usage }));
      if (jobs) router.service(JobService, createJobRpcService({ jobs, registry }));
      router.service(Health, createHealthService({ status: health }));
      router.service(
        ServerReflection,
        createReflectionService({
          files: [
            file_noa_inference_v1_inference,
            file_noa_inference_v1_model,
            file_noa_inference_v1_api_key,
            file_noa_inference_v1_usage,
            file_noa_inference_v1_job,
            file_grpc_health_v1_health,
            file_grpc_reflection_v1_reflection,
          ],
        }),
      );
      for (const { service } of router.handlers) routed.add(service);
    },
    interceptors: [
      createRequestInterceptor({ logger, metrics }),
      createAuthInterceptor({
        authenticator,
        rateLimiter: access.accounting.rateLimiter,
        publicServices: [Health.typeName],
        // The calls that run a model also wait while the caller's token budget is spent.
        spendingTokens: [...InferenceService.methods, JobService.method.submitJob],
      }),
    ],
    shutdownSignal: shutdown.signal,
    readMaxBytes,
    fallback(request, res) {
      if (rest(request, res) || ops.handle(request, res)) return;
      notFound(request, res);
    },
    logger,
    metrics,
  });
  const notFound = createNotFoundHandler({ services: [...routed], logger, metrics });
  const server = createOnePortServer(
    (request, response) => {
      setSecurityHeaders(response);
      // On every answer, whichever layer gives it (also Connect's refusals before any interceptor runs).
      response.setHeader(correlationIdHeader, correlationIdOf(request));
      if (cors(request, response)) return;
      handler(request, response);
    },
    { requestTimeoutMs, logger, metrics },
  );
  metrics?.observe({ connections: () => server.connections() });

  let readinessTimer: NodeJS.Timeout | undefined;
  const refreshReadiness = () =>
    ops.refresh().catch((error: unknown) => logger.error({ err: error }, "readiness check failed"));

  return {
    async listen(port, host) {
      const address = await server.listen(port, host);
      if (readiness) {
        void refreshReadiness();
        readinessTimer = setInterval(refreshReadiness, readinessIntervalMs).unref();
      }
      return address;
    },
    async close({ graceMs }) {
      clearInterval(readinessTimer);
      health.shutDown();
      const closed = server.close({ graceMs: graceMs + 1_000 });
      const graceOver = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
      await Promise.race([closed, graceOver]);
      shutdown.abort(new ConnectError("the server is shutting down; retry the call", Code.Unavailable));
      await closed;
    },
  };
}
