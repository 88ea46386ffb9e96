import { logRequestLine, type RequestLineFields } from "@noa/observability";
import type { Logger } from "pino";
import type { GatewayMetrics } from "../create-metrics.js";

/** One answered request outside the REST face: the fields of the REST face's line, with the route's template. */
export type HttpRequestLine = RequestLineFields & {
  correlationId: string;
  method: string;
  /** The route template, or `unknown`: never the raw path, which a client chooses. */
  route: string;
  status: number;
  ms: number;
};

/**
 * Writes the `"msg":"http"` line of a request the ops routes or the not-found answer served, at `level`
 * (probes that succeed go at debug, so that liveness and scrapes do not fill the log), and counts it in
 * `http_requests_total` and `http_request_duration_seconds` whatever the level.
 */
export function logHttpRequest(
  deps: { logger: Logger; metrics?: Pick<GatewayMetrics, "httpRequest"> },
  line: HttpRequestLine,
  level: "debug" | "info",
): void {
  const { logger, metrics } = deps;
  if (level === "info") logRequestLine(logger, line, "http");
  else if (logger.isLevelEnabled("debug")) logger.debug(line, "http");
  metrics?.httpRequest({
    method: line.method,
    route: line.route,
    status: line.status,
    seconds: line.ms / 1000,
  });
}
