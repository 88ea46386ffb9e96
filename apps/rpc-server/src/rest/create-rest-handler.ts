import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { Authenticator, Principal, RateLimitAllowed, RateLimiter } from "@noa/access";
import type { JobService } from "@noa/jobs";
import {
  type Context,
  extractTraceContext,
  inSpan,
  logRequestLine,
  type Span,
  SpanKind,
  SpanStatusCode,
} from "@noa/observability";
import type { CallController, ModelRegistry } from "@noa/providers";
import type { Logger } from "pino";
import { admitCall } from "../call-accounting.js";
import type { CompletionService } from "../completion-service.js";
import type { GatewayMetrics } from "../create-metrics.js";
import { credentialsOf } from "../http/credentials-of.js";
import { setRateLimitHeaders } from "../rate-limit-headers.js";
import { authenticateInSpan } from "../traced.js";
import { discardRequestBody } from "./discard-request-body.js";
import { createJobRoutes, jobRouteList } from "./jobs.js";
import { chatCompletionFormat, parseChatCompletionRequest } from "./openai-chat-completions.js";
import { completionFormat, parseCompletionRequest } from "./openai-completions.js";
import { getOpenAIModel, listOpenAIModels } from "./openai-models.js";
import { type BodyLimits, readJsonBody } from "./read-json-body.js";
import { createRestExchange, type RestExchange } from "./rest-exchange.js";
import { RestRequestError } from "./rest-request-error.js";
import { safeDecode } from "./safe-decode.js";
import { serveCompletion } from "./serve-completion.js";
import { toOpenAIError } from "./to-openai-error.js";

/** What the REST face needs: the same service layer, registry and authenticator as the Connect face. */
export interface RestHandlerDeps {
  completions: CompletionService;
  registry: ModelRegistry;
  authenticator: Authenticator;
  logger: Logger;
  /** Counts every request by route template and status. */
  metrics?: Pick<GatewayMetrics, "httpRequest">;
  /** Aborts every REST call in flight when the server's shutdown grace is over. */
  shutdownSignal: AbortSignal;
  limits: BodyLimits;
  /** The job service behind /v1/jobs; undefined: those routes are not served. */
  jobs?: JobService;
  /** Takes one request from the caller's bucket for every authenticated request (admitCall). */
  rateLimiter: RateLimiter;
}

type Request = IncomingMessage | Http2ServerRequest;
type Response = ServerResponse | Http2ServerResponse;
type Action = (
  exchange: RestExchange,
  principal: Principal,
  param: string,
  admitted: RateLimitAllowed,
) => Promise<void>;

/** The requests that run a model: refused while the caller's token budget is spent, as well. */
const spendingTokens = new Set(["POST /v1/chat/completions", "POST /v1/completions", "POST /v1/jobs"]);

/** A refused body is read away for at most 2 s or 64 MiB before its connection is closed. */
const refusedBodyLimits = { maxMs: 2_000, maxBytes: 64 * 1024 * 1024 };

/** A route: its template for logs (never a raw id) and its action per method. */
interface Route {
  template: string;
  methods: Partial<Record<string, Action>>;
}

const modelsPrefix = "/v1/models/";
const routeList = "POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /v1/models/{id}";

/**
 * The OpenAI-compatible REST face on the server's one port: routes `/v1/*` and returns false for any
 * other path (so the caller can serve its own or 404). Each request gets a correlation id, is
 * authenticated like an RPC (Bearer or x-api-key) and takes one request from the caller's bucket (429 with
 * `retry-after` when it is empty; every answer after it says where the bucket stands in OpenAI's
 * `x-ratelimit-*-requests`), runs through the completion service, answers errors
 * in OpenAI's shape (toOpenAIError) and writes one log line when it ends.
 */
export function createRestHandler(deps: RestHandlerDeps): (req: Request, res: Response) => boolean {
  const { completions, registry, authenticator, logger, metrics, shutdownSignal, limits } = deps;
  const { rateLimiter } = deps;
  const jobRoutes = deps.jobs && createJobRoutes({ jobs: deps.jobs, registry, limits });
  const started = Math.floor(Date.now() / 1000);
  // One shutdown listener for all exchanges rather than one each (EventTarget listeners are not cheap).
  const inFlight = new Set<CallController>();
  shutdownSignal.addEventListener(
    "abort",
    () => {
      for (const controller of inFlight) controller.abort(shutdownSignal.reason);
    },
    { once: true },
  );

  const completion =
    (parse: typeof parseChatCompletionRequest, format: typeof chatCompletionFormat): Action =>
    async (exchange, principal, _param, admitted) => {
      const request = parse(await readJsonBody(exchange.req, limits));
      await serveCompletion({ exchange, completions, principal, admitted, request, format, logger });
    };
  const routes = new Map<string, Route>([
    [
      "/v1/chat/completions",
      {
        template: "/v1/chat/completions",
        methods: { POST: completion(parseChatCompletionRequest, chatCompletionFormat) },
      },
    ],
    [
      "/v1/completions",
      {
        template: "/v1/completions",
        methods: { POST: completion(parseCompletionRequest, completionFormat) },
      },
    ],
    [
      "/v1/models",
      {
        template: "/v1/models",
        methods: {
          GET: async (exchange, principal) =>
            exchange.sendJson(200, await listOpenAIModels(registry, principal, started)),
        },
      },
    ],
  ]);
  const modelRoute: Route = {
    template: "/v1/models/{id}",
    methods: {
      GET: async (exchange, principal, id) =>
        exchange.sendJson(200, await getOpenAIModel(registry, principal, id, started)),
    },
  };

  async function serve(
    req: Request,
    res: Response,
    path: string,
    span: Span,
    within: Context,
  ): Promise<void> {
    const startedAt = performance.now();
    const exchange = createRestExchange(req, res, { signal: shutdownSignal, inFlight }, within);
    const method = req.method ?? "GET";
    let route = routes.get(path);
    let param = "";
    if (!route && path.startsWith(modelsPrefix) && path.length > modelsPrefix.length) {
      route = modelRoute;
      param = safeDecode(path.slice(modelsPrefix.length));
    }
    const jobRoute = route ? undefined : jobRoutes?.match(path);
    if (jobRoute) {
      route = jobRoute.route;
      param = jobRoute.param;
    }
    try {
      if (!route) {
        const served = jobRoutes ? `${routeList}, ${jobRouteList}` : routeList;
        throw new RestRequestError(404, `no route for ${method} ${path}; this API serves ${served}`, {
          code: "unknown_url",
        });
      }
      // HEAD wherever GET works (RFC 9110 §9.1): the same answer, whose body Node leaves out.
      // Own properties only: over HTTP/2 a client names any method it likes (`constructor`…).
      const action = Object.hasOwn(route.methods, method)
        ? route.methods[method]
        : method === "HEAD"
          ? route.methods.GET
          : undefined;
      if (!action) {
        const methods = Object.keys(route.methods);
        const allowed = (methods.includes("GET") ? [...methods, "HEAD"] : methods).join(", ");
        throw new RestRequestError(405, `${route.template} accepts ${allowed}, not ${method}`, {
          code: "method_not_allowed",
          headers: { allow: allowed },
        });
      }
      const principal = await authenticateInSpan(authenticator, credentialsOf(req), within);
      const admitted = await admitCall(rateLimiter, principal, within, {
        checkTokens: spendingTokens.has(`${method} ${route.template}`),
      });
      // Set once, here, for every answer from now on, errors included; a 429's come with it (toOpenAIError).
      setRateLimitHeaders(res, admitted);
      await action(exchange, principal, param, admitted);
    } catch (error) {
      if (!exchange.clientGone() && !res.headersSent) {
        const { status, headers, body } = toOpenAIError(error, {
          correlationId: exchange.correlationId,
          logger,
          signal: exchange.signal,
          // The legacy endpoint's prompt is one field; a chat's is its messages.
          promptParam: route?.template === "/v1/completions" ? "prompt" : "messages",
        });
        exchange.sendJson(status, body, headers);
        // An unread body stays on an HTTP/1.1 connection: read it away for a moment, then close.
        if ((status === 413 || status === 408) && req.httpVersionMajor === 1) {
          discardRequestBody(req as IncomingMessage, refusedBodyLimits);
        }
      } else if (!res.writableEnded && !exchange.clientGone()) {
        // Unreachable unless an action threw after its response began: do not leave the client hanging.
        logger.error({ err: error, correlationId: exchange.correlationId }, "REST response failed mid-way");
        res.end();
      }
    } finally {
      exchange.dispose();
      const template = route?.template ?? "unknown";
      const status = exchange.clientGone() ? 499 : exchange.status();
      const ms = performance.now() - startedAt;
      logRequestLine(
        logger,
        Object.assign(
          {
            correlationId: exchange.correlationId,
            method,
            route: template,
            status,
            ms: Math.round(ms * 10) / 10,
          },
          exchange.log,
        ),
        "rest",
      );
      metrics?.httpRequest({ method, route: template, status, seconds: ms / 1000 });
      if (span.isRecording()) {
        span.updateName(`${method} ${template}`);
        span.setAttributes({
          "http.route": template,
          "http.response.status_code": status,
          "noa.correlation_id": exchange.correlationId,
        });
        if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      }
    }
  }

  return (req, res) => {
    const url = req.url ?? "/";
    const query = url.indexOf("?");
    const path = query === -1 ? url : url.slice(0, query);
    if (!path.startsWith("/v1/")) return false;
    const method = req.method ?? "GET";
    // A server span continuing the caller's trace (traceparent), for the whole exchange.
    inSpan(
      `${method} /v1`,
      {
        kind: SpanKind.SERVER,
        parent: extractTraceContext(req.headers),
        attributes: { "http.request.method": method },
      },
      (span, within) => serve(req, res, path, span, within),
    ).catch((error: unknown) => {
      logger.error({ err: error }, "REST request handling failed");
      res.destroy?.();
    });
    return true;
  };
}
