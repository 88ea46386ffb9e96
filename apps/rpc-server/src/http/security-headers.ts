import type { ServerResponse } from "node:http";
import type { Http2ServerResponse } from "node:http2";

/**
 * The response headers helmet 8 sets by default (https://helmetjs.github.io/), written out once rather
 * than run as middleware: the values never change, so each response only copies them. The server never
 * sends `X-Powered-By`, which helmet would remove.
 */
export const securityHeaders: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "origin-agent-cluster": "?1",
  "referrer-policy": "no-referrer",
  "strict-transport-security": "max-age=31536000; includeSubDomains",
  "x-content-type-options": "nosniff",
  "x-dns-prefetch-control": "off",
  "x-download-options": "noopen",
  "x-frame-options": "SAMEORIGIN",
  "x-permitted-cross-domain-policies": "none",
  "x-xss-protection": "0",
};

const entries = Object.entries(securityHeaders);

/** Puts the security headers on a response before its handler writes it (they merge with writeHead's). */
export function setSecurityHeaders(res: ServerResponse | Http2ServerResponse): void {
  for (const [name, value] of entries) res.setHeader(name, value);
}
