import type { IncomingHttpHeaders } from "node:http";
import type { CacheEvent, CacheOptions } from "@noa/providers";
import { RestRequestError } from "./rest-request-error.js";

/** The request header that sets the cache mode outright (and the only way to opt a sampled request in). */
export const cacheModeHeader = "x-noa-cache";
/** The response headers: how the cache handled the request, and the tier of a hit. */
export const cacheStatusHeader = "x-noa-cache";
export const cacheTierHeader = "x-noa-cache-tier";

const modes = new Set<string>(["default", "skip", "refresh", "force"]);
const maxTtlSeconds = 4_294_967_295; // the contract's uint32

function invalidHeader(message: string, header: string): RestRequestError {
  return new RestRequestError(400, message, { param: header, code: "invalid_header" });
}

/**
 * A REST request's cache instructions, HTTP style: `Cache-Control: no-store` skips the cache, `no-cache`
 * refreshes it (asks the provider, stores the answer), `max-age=N` stores the answer for N seconds (0: not
 * at all); other directives are ignored, as HTTP asks. `x-noa-cache: default|skip|refresh|force` sets the
 * mode outright and wins over Cache-Control; `force` is how a sampled request (temperature > 0, no seed)
 * opts in. Undefined when the request says nothing.
 */
export function parseCacheHeaders(headers: IncomingHttpHeaders): CacheOptions | undefined {
  const control = headers["cache-control"];
  const explicit = headers[cacheModeHeader];
  if (control === undefined && explicit === undefined) return undefined;
  const options: CacheOptions = {};
  for (const raw of (control ?? "").split(",")) {
    const directive = raw.trim().toLowerCase();
    if (directive === "no-store") options.mode = "skip";
    else if (directive === "no-cache" && options.mode !== "skip") options.mode = "refresh";
    else if (directive.startsWith("max-age=")) {
      const value = directive.slice("max-age=".length).replace(/^"(.*)"$/, "$1");
      const seconds = Number(value);
      if (!/^\d+$/.test(value) || seconds > maxTtlSeconds) {
        throw invalidHeader(
          `Cache-Control max-age must be a whole number of seconds from 0 to ${maxTtlSeconds} (got "${value}")`,
          "cache-control",
        );
      }
      options.ttlSeconds = seconds;
    }
  }
  if (explicit !== undefined) {
    const mode = (Array.isArray(explicit) ? explicit.join(",") : explicit).trim().toLowerCase();
    if (!modes.has(mode)) {
      throw invalidHeader(
        `${cacheModeHeader} must be default, skip, refresh or force (got "${mode}")`,
        cacheModeHeader,
      );
    }
    options.mode = mode as CacheOptions["mode"];
  }
  return options;
}

/** Response headers for how the cache handled a request: `x-noa-cache: hit|miss|refresh|bypass`, and the tier of a hit. */
export function cacheResponseHeaders(event: CacheEvent | undefined): Record<string, string> {
  if (!event) return {};
  if (event.status !== "hit") return { [cacheStatusHeader]: event.status };
  return { [cacheStatusHeader]: "hit", [cacheTierHeader]: event.source };
}
