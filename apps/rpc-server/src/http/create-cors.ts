import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { cors as connectCors } from "@connectrpc/connect";
import { rateLimitHeaderNames } from "../rate-limit-headers.js";

/** Which browser origins may call: every origin, or these exact ones (`https://app.example.com`). */
export type CorsOrigins = "*" | readonly string[];

/** Response headers a browser script may read: Connect's and gRPC-Web's, NOA's ids, retry delays and rate limits. */
const exposedHeaders = [
  ...connectCors.exposedHeaders,
  "x-correlation-id",
  "x-request-id",
  "retry-after",
  "retry-after-ms",
  ...rateLimitHeaderNames,
].join(", ");
const allowedMethods = [...connectCors.allowedMethods, "OPTIONS"].join(", ");
/** Preflight results are cached by browsers for this long (seconds; Chromium caps it at 7200). */
const maxAge = "7200";

/**
 * CORS for every route on the port (Connect, gRPC-Web and the OpenAI REST API alike). Without origins it
 * does nothing: no CORS headers, browsers keep to same-origin. Answers preflights itself (204) and adds
 * the allow/expose headers to actual requests from an allowed origin. The headers a preflight asks for are
 * allowed as asked: credentials travel in an explicit header (never a cookie, and
 * Access-Control-Allow-Credentials is never sent), and clients add their own (the OpenAI SDK's
 * `x-stainless-*`, Connect's, gRPC-Web's). Returns true when it answered the request.
 */
export function createCors(
  origins: CorsOrigins | undefined,
): (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => boolean {
  if (origins === undefined || (origins !== "*" && origins.length === 0)) return () => false;
  const allowed = origins === "*" ? undefined : new Set(origins);
  return (req, res) => {
    const origin = req.headers.origin;
    if (origin === undefined) return false;
    if (allowed) res.setHeader("vary", "Origin");
    if (allowed && !allowed.has(origin)) return false;
    res.setHeader("access-control-allow-origin", allowed ? origin : "*");
    const requestedMethod = req.headers["access-control-request-method"];
    if (req.method !== "OPTIONS" || requestedMethod === undefined) {
      res.setHeader("access-control-expose-headers", exposedHeaders);
      return false;
    }
    const requestedHeaders = req.headers["access-control-request-headers"];
    res.writeHead(204, {
      vary: allowed ? "Origin, Access-Control-Request-Headers" : "Access-Control-Request-Headers",
      "access-control-allow-methods": allowedMethods,
      ...(requestedHeaders && { "access-control-allow-headers": requestedHeaders }),
      "access-control-max-age": maxAge,
      "content-length": "0",
    });
    res.end();
    return true;
  };
}
