import { describe, expect, it } from "vitest";
import { cacheResponseHeaders, parseCacheHeaders } from "./parse-cache-headers.js";
import { RestRequestError } from "./rest-request-error.js";

describe("parseCacheHeaders", () => {
  it("reads Cache-Control's no-store, no-cache and max-age, ignoring other directives", () => {
    expect(parseCacheHeaders({})).toBeUndefined();
    expect(parseCacheHeaders({ "cache-control": "no-store" })).toEqual({ mode: "skip" });
    expect(parseCacheHeaders({ "cache-control": "No-Cache" })).toEqual({ mode: "refresh" });
    expect(parseCacheHeaders({ "cache-control": "no-cache, no-store" })).toEqual({ mode: "skip" });
    expect(parseCacheHeaders({ "cache-control": "max-age=600, private" })).toEqual({ ttlSeconds: 600 });
    expect(parseCacheHeaders({ "cache-control": 'no-cache, max-age="0"' })).toEqual({
      mode: "refresh",
      ttlSeconds: 0,
    });
  });

  it("lets x-noa-cache set the mode outright, the only way to cache a sampled request", () => {
    expect(parseCacheHeaders({ "x-noa-cache": "force" })).toEqual({ mode: "force" });
    expect(parseCacheHeaders({ "x-noa-cache": "Force", "cache-control": "no-store, max-age=60" })).toEqual({
      mode: "force",
      ttlSeconds: 60,
    });
  });

  it("refuses a malformed max-age or mode with a 400 naming the header", () => {
    for (const headers of [
      { "cache-control": "max-age=-1" },
      { "cache-control": "max-age=1.5" },
      { "cache-control": "max-age=99999999999" },
      { "x-noa-cache": "always" },
    ]) {
      let error: unknown;
      try {
        parseCacheHeaders(headers);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(RestRequestError);
      expect(error).toMatchObject({ status: 400, param: Object.keys(headers)[0] });
    }
  });
});

describe("cacheResponseHeaders", () => {
  it("tells a hit and its tier, or how the cache was passed by", () => {
    expect(cacheResponseHeaders(undefined)).toEqual({});
    expect(cacheResponseHeaders({ status: "hit", source: "redis", model: "openai/gpt-4o-mini" })).toEqual({
      "x-noa-cache": "hit",
      "x-noa-cache-tier": "redis",
    });
    expect(cacheResponseHeaders({ status: "bypass" })).toEqual({ "x-noa-cache": "bypass" });
  });
});
