import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".woff2": "font/woff2",
};

/** The page's own scripts and styles only, and calls to its own origin; no framing. */
const contentSecurityPolicy =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/**
 * Serves the built playground from `root` (GET and HEAD): `/` is index.html, hashed assets are cached for
 * a year, and nothing outside `root` is reachable. Without a build it answers 503 saying how to make one.
 */
export function createStaticHandler(root: string | undefined) {
  return async function serveStatic(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end("method not allowed");
      return;
    }
    let urlPath: string;
    try {
      urlPath = decodeURIComponent(new URL(request.url ?? "/", "http://bff").pathname);
    } catch {
      response.writeHead(400, { "content-type": "text/plain" }).end("bad path");
      return;
    }
    const relative = urlPath === "/" ? "index.html" : urlPath.slice(1);
    if (!root) {
      notFound(response, root);
      return;
    }
    const base = path.resolve(root);
    const file = path.resolve(base, relative);
    if (!file.startsWith(`${base}${path.sep}`)) {
      notFound(response, root);
      return;
    }
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) {
      notFound(response, root, relative === "index.html");
      return;
    }
    response.writeHead(200, {
      "content-type": contentTypes[path.extname(file)] ?? "application/octet-stream",
      "content-length": info.size,
      "cache-control": relative.startsWith("assets/") ? "public, max-age=31536000, immutable" : "no-cache",
      "content-security-policy": contentSecurityPolicy,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "x-frame-options": "DENY",
    });
    if (request.method === "HEAD") {
      response.end();
      return;
    }
    createReadStream(file).pipe(response);
  };
}

function notFound(response: ServerResponse, root: string | undefined, missingBuild = false): void {
  if (!root || missingBuild) {
    response
      .writeHead(503, { "content-type": "text/plain; charset=utf-8" })
      .end("the playground is not built: run `pnpm --filter @noa/trpc-bff build` (or `pnpm start:bff`)\n");
    return;
  }
  response.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found\n");
}
