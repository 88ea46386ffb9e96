import { describe, expect, it } from "vitest";
import { parseProxyUrl, proxyFor, proxySettingsFromEnv } from "./proxy-settings.js";

describe("proxySettingsFromEnv", () => {
  it("reads HTTPS_PROXY, HTTP_PROXY and NO_PROXY, the lower-case spelling first", () => {
    expect(
      proxySettingsFromEnv({
        HTTPS_PROXY: "http://upper:3128",
        https_proxy: "http://lower:3128",
        HTTP_PROXY: "http://plain:3128",
        NO_PROXY: "localhost",
      }),
    ).toEqual({ httpsProxy: "http://lower:3128", httpProxy: "http://plain:3128", noProxy: "localhost" });
    expect(proxySettingsFromEnv({ HTTPS_PROXY: "  " })).toEqual({
      httpsProxy: undefined,
      httpProxy: undefined,
      noProxy: undefined,
    });
  });

  it("refuses a proxy that is not an http(s) URL, naming the variable", () => {
    expect(() => proxySettingsFromEnv({ HTTPS_PROXY: "socks5://127.0.0.1:1080" })).toThrow(
      "HTTPS_PROXY must be an http:// or https:// proxy URL, not socks5://",
    );
    expect(() => proxySettingsFromEnv({ http_proxy: "http://exa mple:80" })).toThrow(
      "HTTP_PROXY is not a URL: write it as http://host:port (or http://user:password@host:port)",
    );
  });
});

describe("parseProxyUrl", () => {
  it("takes the credentials out of the URL as a Basic authorization, and defaults the port", () => {
    expect(parseProxyUrl("http://me:p%40ss@proxy.internal:3128", "HTTPS_PROXY")).toEqual({
      protocol: "http:",
      host: "proxy.internal",
      port: 3128,
      authorization: `Basic ${btoa("me:p@ss")}`,
      label: "proxy.internal:3128",
    });
    expect(parseProxyUrl("proxy.internal", "HTTP_PROXY")).toMatchObject({ protocol: "http:", port: 80 });
    expect(parseProxyUrl("https://[::1]", "HTTP_PROXY")).toMatchObject({
      protocol: "https:",
      host: "::1",
      port: 443,
      authorization: undefined,
      label: "[::1]:443",
    });
  });
});

describe("proxyFor", () => {
  const settings = { httpsProxy: "http://secure:3128", httpProxy: "http://plain:3128" };
  const host = (url: string, noProxy?: string) => proxyFor({ ...settings, noProxy }, new URL(url))?.host;

  it("picks the proxy by the target's scheme, and none when that scheme has none", () => {
    expect(host("https://api.openai.com/v1")).toBe("secure");
    expect(host("http://ollama:11434/v1")).toBe("plain");
    expect(proxyFor({ httpsProxy: "http://secure:3128" }, new URL("http://ollama:11434"))).toBeUndefined();
    expect(proxyFor(undefined, new URL("https://api.openai.com"))).toBeUndefined();
  });

  it.for([
    ["https://api.openai.com/v1", "openai.com", true],
    ["https://api.openai.com/v1", ".openai.com", true],
    ["https://api.openai.com/v1", "*.openai.com", true],
    ["https://openai.com/v1", "openai.com", true],
    ["https://notopenai.com/v1", "openai.com", false],
    ["https://api.openai.com/v1", "api.openai.com:443", true],
    ["https://api.openai.com:8443/v1", "api.openai.com:443", false],
    ["http://10.0.0.7:8000/v1", "example.com, 10.0.0.7", true],
    ["http://[::1]:8000/v1", "::1", true],
    ["http://[::1]:8000/v1", "[::1]:8000", true],
    ["https://API.OpenAI.com/v1", "api.openai.COM", true],
    ["https://anything.example/v1", "*", true],
  ] as const)("%s with NO_PROXY=%s goes direct: %s", ([url, noProxy, direct]) => {
    expect(host(url, noProxy)).toBe(direct ? undefined : url.startsWith("https") ? "secure" : "plain");
  });
});
