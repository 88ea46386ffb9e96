/**
 * The outbound proxy as the conventional environment variables name it: `HTTPS_PROXY` for https targets,
 * `HTTP_PROXY` for http ones (lower-case spellings first, as curl and most HTTP clients read them) and
 * `NO_PROXY` for the hosts reached directly.
 */
export interface ProxySettings {
  /** For http:// targets: an `http://` or `https://` proxy URL, with optional `user:password@`. */
  httpProxy?: string | undefined;
  /** For https:// targets (through a CONNECT tunnel): an `http://` or `https://` proxy URL. */
  httpsProxy?: string | undefined;
  /**
   * Hosts reached directly, comma- or space-separated: `*` (every host), a host name (that host and its
   * subdomains; a leading `.` or `*.` is the same), or an IP address, each with an optional `:port`.
   */
  noProxy?: string | undefined;
}

/** A proxy to connect through: where it is and the `proxy-authorization` its URL's credentials make. */
export interface ProxyEndpoint {
  protocol: "http:" | "https:";
  /** A host name or IP address, without IPv6 brackets. */
  host: string;
  port: number;
  /** `Basic …` from the URL's user and password; undefined without them. */
  authorization: string | undefined;
  /** `host:port`, for logs and errors (never the credentials). */
  label: string;
}

/** The proxy settings the environment gives (HTTPS_PROXY, HTTP_PROXY, NO_PROXY and their lower-case forms). */
export function proxySettingsFromEnv(env: NodeJS.ProcessEnv): ProxySettings {
  const read = (name: string) => (env[name.toLowerCase()] ?? env[name])?.trim() || undefined;
  const settings = {
    httpProxy: read("HTTP_PROXY"),
    httpsProxy: read("HTTPS_PROXY"),
    noProxy: read("NO_PROXY"),
  };
  // Checked now, so that a mistyped proxy stops the app at start with the variable's name.
  for (const [name, value] of [
    ["HTTP_PROXY", settings.httpProxy],
    ["HTTPS_PROXY", settings.httpsProxy],
  ] as const) {
    if (value !== undefined) parseProxyUrl(value, name);
  }
  return settings;
}

/** Picks the proxy for requests to `url` (none when NO_PROXY lists its host, or none is set for its scheme). */
export function proxyFor(settings: ProxySettings | undefined, url: URL): ProxyEndpoint | undefined {
  const proxy = url.protocol === "https:" ? settings?.httpsProxy : settings?.httpProxy;
  if (!proxy || bypasses(settings?.noProxy, url)) return undefined;
  return parseProxyUrl(proxy, url.protocol === "https:" ? "HTTPS_PROXY" : "HTTP_PROXY");
}

/** A proxy URL as an endpoint; throws an error naming `name` and what to write instead. */
export function parseProxyUrl(value: string, name: string): ProxyEndpoint {
  let url: URL;
  try {
    // `proxy.example:3128` (no scheme) means an http proxy, as curl reads it.
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
  } catch {
    throw new Error(`${name} is not a URL: write it as http://host:port (or http://user:password@host:port)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`${name} must be an http:// or https:// proxy URL, not ${url.protocol}//`);
  }
  const host = unbracket(url.hostname);
  const port = url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
  const credentials =
    url.username || url.password
      ? `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`
      : undefined;
  return {
    protocol: url.protocol,
    host,
    port,
    authorization: credentials && `Basic ${Buffer.from(credentials).toString("base64")}`,
    label: `${url.hostname}:${port}`,
  };
}

/** Whether NO_PROXY sends requests to `url` directly. */
function bypasses(noProxy: string | undefined, url: URL): boolean {
  if (!noProxy) return false;
  const host = unbracket(url.hostname.toLowerCase());
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  for (const raw of noProxy.split(/[\s,]+/)) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === "*") return true;
    // `host:port`, `[v6]:port`, or a bare host or address.
    const bracketed = /^(\[[^\]]+\])(?::(\d+))?$/.exec(entry);
    const hostPort = bracketed ?? /^([^:]+)(?::(\d+))?$/.exec(entry);
    // A bare IPv6 address has colons of its own: no port can be told apart, the entry is the address.
    const entryHost = unbracket(hostPort?.[1] ?? entry).replace(/^\*?\./, "");
    const entryPort = hostPort?.[2];
    if (entryPort && entryPort !== port) continue;
    if (host === entryHost || host.endsWith(`.${entryHost}`)) return true;
  }
  return false;
}

/** A URL's host name without IPv6 brackets (`[::1]` → `::1`), as sockets take it. */
export function unbracket(host: string): string {
  return host.startsWith("[") ? host.slice(1, -1) : host;
}
