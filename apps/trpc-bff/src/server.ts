import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Transport } from "@connectrpc/connect";
import { type Context, correlationIdHeader, extractTraceContext, inSpan, SpanKind } from "@noa/observability";
import { createHTTPHandler } from "@trpc/server/adapters/standalone";
import type { Logger } from "pino";
import { createContextFactory } from "./context.js";
import { correlationIdOf } from "./correlation-id-of.js";
import { createProcedureLogger } from "./create-procedure-logger.js";
import { appRouter } from "./router.js";
import { createRpcClients } from "./rpc-clients.js";
import { createStaticHandler } from "./serve-static.js";
import { createMemorySessionRevocations } from "./session/memory-session-revocations.js";
import { writeSessionCookie } from "./session/session-cookie.js";
import type { SessionRevocations } from "./session/session-revocations.js";
import { createSessionSealer } from "./session/session-sealer.js";
import { BffError } from "./to-trpc-error.js";

/** What the BFF needs, built by main.ts or by a test. */
export interface BffDeps {
  /** How to reach rpc-server: a gRPC or Connect transport from @connectrpc/connect-node. */
  transport: Transport;
  logger: Logger;
  /** Encrypts session cookies; every replica needs the same one (32+ characters). */
  sessionSecret: string;
  /** How long a session lasts. Default 12 h. */
  sessionTtlSeconds?: number;
  /**
   * Where signed-out sessions are remembered until they expire. Several replicas must share one
   * (createRedisSessionRevocations); default: this process's memory (createMemorySessionRevocations).
   */
  sessionRevocations?: SessionRevocations;
  /** Serve cookies with `Secure` (the BFF is reached over https). Default false. */
  secureCookies?: boolean;
  /** Origins allowed to send mutations; default: the origin the request was addressed to. */
  allowedOrigins?: readonly string[];
  /** The built playground (Vite's outDir); undefined: the page answers 503. */
  staticDir?: string;
  /** How long a unary call to rpc-server may take (inference excepted). Default 15 s. */
  rpcTimeoutMs?: number;
  /** The largest request body tRPC reads; a larger one is refused with 413. Default 1 MiB. */
  maxBodyBytes?: number;
}

/** A built, not yet listening, BFF. */
export interface BffServer {
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Stops accepting, ends open subscriptions (cancelling their RPCs) and waits for the rest. */
  close(): Promise<void>;
}

/** What server.ts knows of a tRPC request before tRPC reads it. */
interface TrpcRequest {
  correlationId: string;
  /** The procedure path(s) of its URL (`models.list`, or `a,b` for a batch). */
  procedure: string;
  /** `performance.now()` when it came. */
  startedAt: number;
  /** Its server span, once started. */
  traceContext?: Context;
}

/** The tRPC procedures under `/trpc`, the playground everywhere else, `GET /health` for load balancers. */
export function build(deps: BffDeps): BffServer {
  const { logger } = deps;
  const secureCookies = deps.secureCookies ?? false;
  const sealer = createSessionSealer({ secret: deps.sessionSecret, ttlSeconds: deps.sessionTtlSeconds });
  const procedureLogger = createProcedureLogger(logger);
  const createContext = createContextFactory({
    rpc: createRpcClients(deps.transport),
    sealer,
    revocations: deps.sessionRevocations ?? createMemorySessionRevocations(),
    logger,
    procedureLogger,
    secureCookies,
    allowedOrigins: deps.allowedOrigins,
    rpcTimeoutMs: deps.rpcTimeoutMs ?? 15_000,
  });
  // Each tRPC request's own facts: its correlation id, its server span (for the calls its procedures
  // make), the procedure path of its URL and when it began.
  const requests = new WeakMap<IncomingMessage, TrpcRequest>();
  const trpc = createHTTPHandler({
    maxBodySize: deps.maxBodyBytes ?? 1_048_576,
    router: appRouter,
    basePath: "/trpc/",
    createContext: async ({ req, res, info }) => {
      const context = await createContext({
        headers: req.headers,
        connectionParams: info.connectionParams,
        correlationId: requests.get(req)?.correlationId,
        traceContext: requests.get(req)?.traceContext,
        setSessionCookie: (token) =>
          writeSessionCookie(res, { secure: secureCookies, value: token, maxAgeSeconds: sealer.ttlSeconds }),
      });
      res.setHeader("cache-control", "no-store");
      return context;
    },
    responseMeta({ errors }) {
      const limited = errors.find(
        (error): error is BffError => error instanceof BffError && error.retryAfterMs !== undefined,
      );
      return limited?.retryAfterMs !== undefined
        ? { headers: { "retry-after": String(Math.ceil(limited.retryAfterMs / 1_000)) } }
        : {};
    },
    // Calls that reached a procedure are logged by trpc.ts's middleware, which also saw this error;
    // this logs what tRPC refused before any procedure ran (no such path, wrong method or content type).
    onError({ error, path, type, req }) {
      const request = requests.get(req);
      if (!request) return;
      procedureLogger.ended(
        {
          correlationId: request.correlationId,
          procedure: path ?? request.procedure,
          type,
          startedAt: request.startedAt,
        },
        error.code,
        error,
      );
    },
  });
  const serveStatic = createStaticHandler(deps.staticDir);

  const server: Server = createServer((request, response) => {
    const url = request.url ?? "/";
    if (url === "/trpc" || url.startsWith("/trpc/")) {
      const procedure = url.slice("/trpc/".length).split("?")[0] || "/";
      const facts: TrpcRequest = {
        correlationId: correlationIdOf(request.headers),
        procedure,
        startedAt: performance.now(),
      };
      requests.set(request, facts);
      // Every answer names it, also one tRPC gives before any procedure runs.
      response.setHeader(correlationIdHeader, facts.correlationId);
      // A server span per tRPC request, continuing the browser's trace when it sends one; the calls to
      // rpc-server made while it runs carry it on (context.ts).
      void inSpan(
        `tRPC ${procedure}`,
        {
          kind: SpanKind.SERVER,
          parent: extractTraceContext(request.headers),
          attributes: { "http.request.method": request.method ?? "GET", "rpc.method": procedure },
        },
        (span, within) =>
          new Promise<void>((resolve) => {
            facts.traceContext = within;
            response.once("close", () => {
              span.setAttribute("http.response.status_code", response.statusCode);
              resolve();
            });
            trpc(request, response);
          }),
      );
      return;
    }
    if (url === "/health") {
      response.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
      return;
    }
    serveStatic(request, response).catch((error: unknown) => {
      logger.error({ err: error }, "static file failed");
      if (!response.headersSent) response.writeHead(500).end();
      else response.destroy();
    });
  });

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        // Open SSE streams would keep the server open for ever; closing them aborts their RPCs.
        server.closeAllConnections();
      });
    },
  };
}
