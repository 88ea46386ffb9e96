import { Code } from "@connectrpc/connect";
import type { UsageRecord } from "@noa/access";
import {
  createSpansDroppedCounter,
  FoldedCounter,
  FoldedHistogram,
  type ReadinessReport,
  type Tracing,
} from "@noa/observability";
import type { AttemptEvent, ModelRegistry } from "@noa/providers";
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { outcomeName } from "./classify-error.js";

const circuitStateValues = { closed: 0, "half-open": 1, open: 2 } as const;
/** The seed design's buckets for request durations, 10 ms to 10 s. */
const durationBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const firstTokenBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** One HTTP request (REST or an operations route), as its log line sees it. */
export interface HttpRequestEvent {
  method: string;
  /** The route template (`/v1/models/{id}`), never a raw path. */
  route: string;
  status: number;
  seconds: number;
}

/** One RPC, as the request interceptor sees it. */
export interface RpcRequestEvent {
  service: string;
  method: string;
  protocol: string;
  /** Undefined when the call succeeded. */
  code: Code | undefined;
  seconds: number;
}

/** What the rpc-server measures; every label value is bounded (templates, codes, configured model ids). */
export interface GatewayMetrics {
  /** Scraped at GET /metrics. */
  readonly registry: Registry;
  httpRequest(event: HttpRequestEvent): void;
  /**
   * An HTTP/1.1 request Node's server refused (400, 413, 431) or stopped waiting for (408) before it was
   * read whole, answered by createClientErrorHandler: counted in `http_requests_total` (method `other`,
   * route `unparsed`) and `http_errors_total`, not timed (when it began is not known).
   */
  unparsedRequest(status: number): void;
  rpcRequest(event: RpcRequestEvent): void;
  /** One try of one provider target (routing wrappers' AttemptEvent). */
  providerAttempt(event: AttemptEvent): void;
  /** A request moved on to `target` after its first target failed or was skipped. */
  fallback(target: string): void;
  /** Time from the call to the first generated text of a stream. */
  firstToken(model: string, seconds: number): void;
  /** One request settled in the usage ledger: tokens, cost, cache hit or miss. */
  usage(record: UsageRecord): void;
  /** The last readiness check: `noa_ready` and `noa_dependency_up`. */
  readiness(report: ReadinessReport): void;
  /** Sources read when scraped: open connections and records waiting in the usage ledger's buffer. */
  observe(sources: { connections?: () => number; usageBuffered?: () => number }): void;
}

/**
 * The rpc-server's own Prometheus registry (never the global default) with the seed design's metric
 * names (`http_requests_total`, `http_errors_total`, `http_request_duration_seconds`,
 * `http_active_connections`, `ai_provider_requests_total`, `ai_provider_latency_seconds`,
 * `ai_provider_cost_total`), the `noa_*` metrics a gateway's operator needs (RPCs, time to first token,
 * tokens, cache, breakers, retries, fallbacks, rate-limit refusals, usage buffer, spans tracing lost) and
 * the process metrics.
 * What every request updates is a FoldedCounter or FoldedHistogram (cheap to record, scraped the same as
 * prom-client's); gauges read when scraped stay prom-client's.
 */
export function createMetrics({
  registry: models,
  tracing,
}: {
  registry: ModelRegistry;
  /** Its lost spans become `noa_trace_spans_dropped_total`. */
  tracing?: Pick<Tracing, "spansLost">;
}): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  createSpansDroppedCounter({ registers, tracing });
  const sources: { connections?: () => number; usageBuffered?: () => number } = {};
  // Target label values are bounded: the models the registry lists, and at most maxUnlistedTargets
  // others (OpenAI and Anthropic take any model id a client sends); the rest count as `<provider>/other`.
  const labels = new Map<string, string>();
  let unlisted = 0;
  models.listModels().then(
    (listed) => {
      for (const model of listed) labels.set(model.id, model.id);
    },
    () => {},
  );
  const splits = new Map<string, readonly [string, string] | readonly []>();

  const httpRequests = new FoldedCounter({
    name: "http_requests_total",
    help: "HTTP requests (REST API and operations routes) by method, route template and status",
    labelNames: ["method", "route", "status"],
    registers,
  });
  const httpErrors = new FoldedCounter({
    name: "http_errors_total",
    help: "Failed requests on every face (REST and RPC) by error category",
    labelNames: ["category"],
    registers,
  });
  const httpDuration = new FoldedHistogram({
    name: "http_request_duration_seconds",
    help: "HTTP request duration (to the end of the response, streams included)",
    labelNames: ["method", "route", "status"],
    buckets: durationBuckets,
    registers,
  });
  new Gauge({
    name: "http_active_connections",
    help: "Open client connections (HTTP/1.1 and HTTP/2)",
    registers,
    collect() {
      this.set(sources.connections?.() ?? 0);
    },
  });
  const rpcRequests = new FoldedCounter({
    name: "noa_rpc_requests_total",
    help: "RPCs by service, method, protocol (grpc, grpc-web, connect) and code",
    labelNames: ["service", "method", "protocol", "code"],
    registers,
  });
  const rpcDuration = new FoldedHistogram({
    name: "noa_rpc_request_duration_seconds",
    help: "RPC duration (to the end of the response, streams included)",
    labelNames: ["service", "method", "protocol"],
    buckets: durationBuckets,
    registers,
  });
  const providerRequests = new FoldedCounter({
    name: "ai_provider_requests_total",
    help: "Calls to model providers, one per attempt, by provider, model and outcome (ok, error, cancelled, circuit-open)",
    labelNames: ["provider", "model", "outcome"],
    registers,
  });
  const providerLatency = new FoldedHistogram({
    name: "ai_provider_latency_seconds",
    help: "Duration of provider attempts that were made (not those an open breaker skipped)",
    labelNames: ["provider", "model"],
    buckets: durationBuckets,
    registers,
  });
  const providerCost = new FoldedCounter({
    name: "ai_provider_cost_total",
    help: "What served requests cost, in US dollars, by provider and model",
    labelNames: ["provider", "model"],
    registers,
  });
  const retries = new FoldedCounter({
    name: "noa_provider_retries_total",
    help: "Retries of a target after a failed attempt",
    labelNames: ["target"],
    registers,
  });
  const fallbacks = new FoldedCounter({
    name: "noa_provider_fallbacks_total",
    help: "Times a request moved on to a target after the first (the previous failed or its breaker was open)",
    labelNames: ["target"],
    registers,
  });
  const firstToken = new FoldedHistogram({
    name: "noa_time_to_first_token_seconds",
    help: "Time from a streaming call to its first generated text",
    labelNames: ["model"],
    buckets: firstTokenBuckets,
    registers,
  });
  const tokens = new FoldedCounter({
    name: "noa_tokens_total",
    help: "Tokens by model served and direction (prompt, completion)",
    labelNames: ["model", "direction"],
    registers,
  });
  const cacheRequests = new FoldedCounter({
    name: "noa_cache_requests_total",
    help: "Answered requests by cache result (hit, miss) and the tier that served a hit",
    labelNames: ["result", "tier"],
    registers,
  });
  const rateLimited = new FoldedCounter({
    name: "noa_rate_limit_rejections_total",
    help: "Requests refused by a rate or token limit",
    registers,
  });
  const ready = new Gauge({
    name: "noa_ready",
    help: "1 when the last readiness check passed, 0 when a dependency was down",
    registers,
  });
  const dependencyUp = new Gauge({
    name: "noa_dependency_up",
    help: "Per dependency (database, redis, models): 1 usable, 0 down, at the last readiness check",
    labelNames: ["dependency"],
    registers,
  });
  new Gauge({
    name: "noa_usage_buffer_depth",
    help: "Usage records waiting to be written to the database",
    registers,
    collect() {
      this.set(sources.usageBuffered?.() ?? 0);
    },
  });
  new Gauge({
    name: "noa_circuit_breaker_state",
    help: "Circuit breaker state per target: 0 closed, 1 half-open, 2 open",
    labelNames: ["target"],
    registers,
    async collect() {
      this.reset();
      for (const model of await models.listModels()) {
        if (model.circuit) this.set({ target: model.id }, circuitStateValues[model.circuit.state]);
      }
    },
  });

  return {
    registry,
    httpRequest({ method, route, status, seconds }) {
      const labels = [knownMethods.has(method) ? method : "other", route, String(status)] as const;
      httpRequests.inc(labels);
      httpDuration.observe(labels, seconds);
      if (status >= 400) {
        httpErrors.inc([categoryOfStatus(status)]);
        if (status === 429) rateLimited.inc([]);
      }
    },
    unparsedRequest(status) {
      httpRequests.inc(["other", "unparsed", String(status)]);
      httpErrors.inc([categoryOfStatus(status)]);
    },
    rpcRequest({ service, method, protocol, code, seconds }) {
      rpcRequests.inc([service, method, protocol, outcomeName(code)]);
      rpcDuration.observe([service, method, protocol], seconds);
      if (code !== undefined) {
        httpErrors.inc([categoryOfCode(code)]);
        if (code === Code.ResourceExhausted) rateLimited.inc([]);
      }
    },
    providerAttempt(event) {
      const target = labelOf(event.target);
      const [provider = "", model = target] = splitTarget(target);
      providerRequests.inc([provider, model, event.outcome]);
      if (event.outcome !== "circuit-open")
        providerLatency.observe([provider, model], event.durationMs / 1000);
      if (event.attempt > 1) retries.inc([target]);
    },
    fallback(target) {
      fallbacks.inc([labelOf(target)]);
    },
    firstToken(model, seconds) {
      firstToken.observe([labelOf(model)], seconds);
    },
    usage(record) {
      if (record.status !== "error") {
        cacheRequests.inc(record.cached ? ["hit", record.cacheTier ?? ""] : ["miss", ""]);
      }
      if (!record.modelServed || record.cached) return;
      const model = labelOf(record.modelServed);
      tokens.inc([model, "prompt"], record.promptTokens);
      tokens.inc([model, "completion"], record.completionTokens);
      const [provider = record.provider ?? ""] = splitTarget(model);
      providerCost.inc([provider, model], record.costUsd);
    },
    readiness(report) {
      ready.set(report.ready ? 1 : 0);
      for (const [dependency, state] of Object.entries(report.dependencies)) {
        dependencyUp.set({ dependency }, state.status === "ok" ? 1 : 0);
      }
    },
    observe(next) {
      Object.assign(sources, next);
    },
  };

  /** The label value for a target: itself when listed or among the first unlisted ones, else `<provider>/other`. */
  function labelOf(target: string): string {
    const label = labels.get(target);
    if (label !== undefined) return label;
    if (unlisted < maxUnlistedTargets) {
      unlisted++;
      labels.set(target, target);
      return target;
    }
    const slash = target.indexOf("/");
    return slash === -1 ? "other" : `${target.slice(0, slash)}/other`;
  }

  /** `<provider>/<model>` split once per target: the same strings each time make the series lookup cheaper. */
  function splitTarget(target: string): readonly [string, string] | readonly [] {
    let split = splits.get(target);
    if (split === undefined) {
      const slash = target.indexOf("/");
      split = slash === -1 ? [] : [target.slice(0, slash), target.slice(slash + 1)];
      splits.set(target, split);
    }
    return split;
  }
}

/** Model ids a registry does not list that still get series of their own (see labelOf). */
const maxUnlistedTargets = 100;

/** HTTP/2 takes any token as a method: past these, the `method` label is `other`, so that it stays bounded. */
const knownMethods = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "PATCH",
  "OPTIONS",
  "CONNECT",
  "TRACE",
]);

/** A bounded error category from an HTTP status. */
function categoryOfStatus(status: number): string {
  switch (status) {
    case 400:
    case 405:
    case 413:
    case 415:
    case 422:
      return "invalid_request";
    case 401:
      return "unauthenticated";
    case 403:
      return "permission_denied";
    case 404:
      return "not_found";
    case 408:
    case 504:
      return "timeout";
    case 429:
      return "rate_limited";
    case 499:
      return "cancelled";
    case 502:
    case 503:
      return "unavailable";
    default:
      return status >= 500 ? "internal" : "invalid_request";
  }
}

/** The same categories from an RPC code. */
function categoryOfCode(code: Code): string {
  switch (code) {
    case Code.InvalidArgument:
    case Code.FailedPrecondition:
    case Code.OutOfRange:
      return "invalid_request";
    case Code.Unauthenticated:
      return "unauthenticated";
    case Code.PermissionDenied:
      return "permission_denied";
    case Code.NotFound:
    // A procedure this server does not serve: the caller's mistake, as an unknown route is.
    case Code.Unimplemented:
      return "not_found";
    case Code.DeadlineExceeded:
      return "timeout";
    case Code.ResourceExhausted:
      return "rate_limited";
    case Code.Canceled:
      return "cancelled";
    case Code.Unavailable:
      return "unavailable";
    default:
      return "internal";
  }
}
