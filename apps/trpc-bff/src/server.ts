import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Transport } from "@connectrpc/connect";
import { type Context, extractTraceContext, inSpan, SpanKind } from "@noa/observability";
import { createHTTPHandler } from "@trpc/server/adapters/standalone";
import type { Logger } from "pino";
import { createContextFactory } from "./context.js";
import { appRouter } from "./router.js";
import { createRpcClients } from "./rpc-clients.js";
import { createStaticHandler } from "./serve-static.js";
import { writeSessionCookie } from "./session/session-cookie.js";
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
  /** Serve cookies with `Secure` (the BFF is reached over https). Default false. */
  secureCookies?: boolean;
  /** Origins allowed to send mutations; default: the origin the request was addressed to. */
  allowedOrigins?: readonly string[];
  /** The built playground (Vite's outDir); undefined: the page answers 503. */
  staticDir?: string;
  /** How long a unary call to rpc-server may take (inference excepted). Default 15 s. */
  rpcTimeoutMs?: number;
}

/** A built, not yet listening, BFF. */
export interface BffServer {
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Stops accepting, ends open subscriptions (cancelling their RPCs) and waits for the rest. */
  close(): Promise<void>;
}

/** The tRPC procedures under `/trpc`, the playground everywhere else, `GET /health` for load balancers. */
export function build(deps: BffDeps): BffServer {
  const { logger } = deps;
  const secureCookies = deps.secureCookies ?? false;
  const sealer = createSessionSealer({ secret: deps.sessionSecret, ttlSeconds: deps.sessionTtlSeconds });
  const createContext = createContextFactory({
    rpc: createRpcClients(deps.transport),
    sealer,
    logger,
    secureCookies,
    allowedOrigins: deps.allowedOrigins,
    rpcTimeoutMs: deps.rpcTimeoutMs ?? 15_000,
  });
  // Each tRPC request's server span, for the calls its procedures make.
  const traceContexts = new WeakMap<IncomingMessage, Context>();
  const trpc = createHTTPHandler({
    router: appRouter,
    basePath: "/trpc/",
    createContext: async ({ req, res }) => {
      const context = await createContext({
        headers: req.headers,
        traceContext: traceContexts.get(req),
        setSessionCookie: (token) =>
          writeSessionCookie(res, { secure: secureCookies, value: token, maxAgeSeconds: sealer.ttlSeconds }),
      });
      res.setHeader("x-correlation-id", context.correlationId);
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
    onError({ error, path, ctx }) {
      const correlationId = error instanceof BffError ? error.correlationId : ctx?.correlationId;
      const level = error.code === "INTERNAL_SERVER_ERROR" ? "error" : "info";
      logger[level]({ path, code: error.code, correlationId }, "procedure failed");
    },
  });
  const serveStatic = createStaticHandler(deps.staticDir);

  const server: Server = createServer((request, response) => {
    const url = request.url ?? "/";
    if (url === "/trpc" || url.startsWith("/trpc/")) {
      // A server span per tRPC request, continuing the browser's trace when it sends one; the calls to
      // rpc-server made while it runs carry it on (context.ts).
      const procedure = url.slice("/trpc/".length).split("?")[0] || "/";
      void inSpan(
        `tRPC ${procedure}`,
        {
          kind: SpanKind.SERVER,
          parent: extractTraceContext(request.headers),
          attributes: { "http.request.method": request.method ?? "GET", "rpc.method": procedure },
        },
        (span, within) =>
          new Promise<void>((resolve) => {
            traceContexts.set(request, within);
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
