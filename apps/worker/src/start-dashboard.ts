import type { IncomingHttpHeaders, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { ExpressAdapter } from "@bull-board/express";
import { type Authenticator, hasScope } from "@noa/access";
import type { JobQueues } from "@noa/jobs";
import { bearerMatches, type ReadinessReport } from "@noa/observability";
import express from "express";
import type { Logger } from "pino";
import type { Registry } from "prom-client";

/**
 * The worker's HTTP port: GET /health (liveness), GET /health/ready (503 naming PostgreSQL or Redis
 * when either is unusable), GET /metrics (Prometheus; behind a bearer token when one is set), and Bull
 * Board under /admin/queues for admin keys only.
 */
export interface Dashboard {
  address: AddressInfo;
  close(): Promise<void>;
}

/**
 * Serves Bull Board (the maintained BullMQ dashboard) for the job, dead-letter and webhook queues under
 * `/admin/queues`, behind the same API keys as rpc-server: only a key with the `admin` scope gets in. A
 * browser sends the key as the password of HTTP Basic auth (any user name); tools send
 * `Authorization: Bearer <key>` or `x-api-key`.
 */
export async function startDashboard(deps: {
  queues: JobQueues;
  authenticator: Authenticator;
  logger: Logger;
  isReady: () => boolean;
  /** The worker's dependencies (createReadiness over PostgreSQL and Redis); without it, ready while running. */
  readiness?: () => Promise<ReadinessReport>;
  metrics?: Registry;
  /** When set, GET /metrics needs `Authorization: Bearer <metricsToken>`. */
  metricsToken?: string;
  port: number;
  host: string;
}): Promise<Dashboard> {
  const { queues, authenticator, logger } = deps;
  const basePath = "/admin/queues";
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(basePath);
  createBullBoard({
    queues: [queues.jobs, queues.deadLetter, queues.webhooks].map((queue) => new BullMQAdapter(queue)),
    serverAdapter,
  });
  const app = express();
  app.disable("x-powered-by");
  app.get("/health", (_request, response) => {
    const ready = deps.isReady();
    response.status(ready ? 200 : 503).json({ status: ready ? "ok" : "shutting down" });
  });
  app.get("/health/ready", async (_request, response) => {
    const report = await deps.readiness?.();
    const ready = deps.isReady() && (report?.ready ?? true);
    response.status(ready ? 200 : 503).json({
      status: deps.isReady() ? (ready ? "ready" : "not ready") : "shutting down",
      ...report,
    });
  });
  app.get("/metrics", async (request, response) => {
    if (!deps.metrics) return void response.status(404).json({ error: { message: "metrics are off" } });
    if (deps.metricsToken && !bearerMatches(request.header("authorization"), deps.metricsToken)) {
      return void response
        .status(401)
        .json({ error: { message: "GET /metrics needs Authorization: Bearer <NOA_METRICS_TOKEN>" } });
    }
    try {
      const text = await deps.metrics.metrics();
      response.type(deps.metrics.contentType).send(text);
    } catch (error) {
      logger.error({ err: error }, "metrics collection failed");
      response.status(500).json({ error: { message: "metrics collection failed" } });
    }
  });
  app.use(basePath, (request, response, next) => {
    // A browser keeps Basic credentials for the site: the page may not be framed (clickjacking), and
    // a change may not come from another site's form (its Origin or Sec-Fetch-Site says so).
    response.set({
      "x-frame-options": "DENY",
      "content-security-policy": "frame-ancestors 'none'",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
    });
    if (!safeMethods.has(request.method) && isCrossSite(request.headers)) {
      return void response
        .status(403)
        .json({ error: { message: "the queue dashboard takes changes only from its own pages" } });
    }
    const headers = new Headers();
    const authorization = request.header("authorization");
    const basic = authorization?.match(/^Basic\s+(.+)$/i)?.[1];
    if (basic) {
      const decoded = Buffer.from(basic, "base64").toString("utf8");
      headers.set("x-api-key", decoded.slice(decoded.indexOf(":") + 1));
    } else if (authorization) headers.set("authorization", authorization);
    const apiKey = request.header("x-api-key");
    if (apiKey) headers.set("x-api-key", apiKey);
    authenticator.authenticate(headers).then(
      (principal) => {
        if (hasScope(principal, "admin")) return next();
        response
          .status(403)
          .json({ error: { message: "the queue dashboard needs a key with the admin scope" } });
      },
      () => {
        response
          .status(401)
          .set("www-authenticate", 'Basic realm="noa queues", charset="UTF-8"')
          .json({
            error: { message: "the queue dashboard needs an admin API key (as the Basic auth password)" },
          });
      },
    );
  });
  const board = serverAdapter.getRouter() as express.Express;
  // Bull Board's router is an Express app of its own, which announces itself unless told not to.
  board.disable?.("x-powered-by");
  app.use(basePath, board);
  const server: Server = await new Promise((resolve, reject) => {
    const listening = app.listen(deps.port, deps.host, (error?: Error) =>
      error ? reject(error) : resolve(listening),
    );
  });
  const address = server.address() as AddressInfo;
  logger.info({ address: `${address.address}:${address.port}`, path: basePath }, "queue dashboard listening");
  return {
    address,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const safeMethods = new Set(["GET", "HEAD", "OPTIONS"]);

/** Whether a request came from another site's page: its Sec-Fetch-Site, else its Origin against its Host. */
function isCrossSite(headers: IncomingHttpHeaders): boolean {
  const site = headers["sec-fetch-site"];
  if (site !== undefined) return site !== "same-origin" && site !== "none";
  const origin = headers.origin;
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== headers.host;
  } catch {
    return true;
  }
}
