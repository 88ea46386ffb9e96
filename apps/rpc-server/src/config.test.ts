import { describe, expect, it } from "vitest";
import { parseConfig } from "./config.js";

describe("parseConfig: HTTP settings", () => {
  it("defaults to no CORS, a 1 MiB body limit and a 30 s request timeout", () => {
    expect(parseConfig({})).toMatchObject({
      corsOrigins: undefined,
      maxBodyBytes: 1_048_576,
      requestTimeoutMs: 30_000,
    });
  });

  it("reads CORS_ORIGIN as * or a comma list of origins", () => {
    expect(parseConfig({ CORS_ORIGIN: "*" }).corsOrigins).toBe("*");
    expect(parseConfig({ CORS_ORIGIN: "https://a.example, http://localhost:3000" }).corsOrigins).toEqual([
      "https://a.example",
      "http://localhost:3000",
    ]);
  });

  it.each(["https://a.example/", "a.example", "https://a.example/path"])(
    "refuses %s as an origin, saying what it takes",
    (value) => {
      expect(() => parseConfig({ CORS_ORIGIN: value })).toThrow(
        /CORS_ORIGIN must be "\*" or a comma-separated list/,
      );
    },
  );

  it("reads the body limit and the request timeout", () => {
    expect(parseConfig({ NOA_MAX_BODY_BYTES: "65536", NOA_REQUEST_TIMEOUT_MS: "0" })).toMatchObject({
      maxBodyBytes: 65_536,
      requestTimeoutMs: 0,
    });
    expect(() => parseConfig({ NOA_MAX_BODY_BYTES: "12" })).toThrow(/NOA_MAX_BODY_BYTES must be an integer/);
  });
});

describe("parseConfig: outbound proxy", () => {
  it("reads HTTPS_PROXY, HTTP_PROXY and NO_PROXY for the providers, and refuses a proxy it cannot use", () => {
    expect(
      parseConfig({ https_proxy: "http://proxy.internal:3128", NO_PROXY: "localhost,.svc" }).proxy,
    ).toEqual({ httpsProxy: "http://proxy.internal:3128", httpProxy: undefined, noProxy: "localhost,.svc" });
    expect(() => parseConfig({ HTTPS_PROXY: "socks5://proxy.internal:1080" })).toThrow(
      "HTTPS_PROXY must be an http:// or https:// proxy URL, not socks5://",
    );
  });
});
