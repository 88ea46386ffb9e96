import type { IncomingHttpHeaders, ServerResponse } from "node:http";

/** The session cookie's name. `__Host-` (Secure, Path=/, no Domain) when served over https. */
export function sessionCookieName(secure: boolean): string {
  return secure ? "__Host-noa_session" : "noa_session";
}

/** Reads one cookie from a request's `Cookie` header. */
export function readCookie(headers: IncomingHttpHeaders, name: string): string | undefined {
  const header = headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const index = part.indexOf("=");
    if (index < 0) continue;
    if (part.slice(0, index).trim() === name) return decodeURIComponent(part.slice(index + 1).trim());
  }
  return undefined;
}

/**
 * Sets (or, with `value` undefined, clears) the session cookie: httpOnly so page scripts never see the
 * key, SameSite=Strict so no other site's page can send it, Secure over https.
 */
export function writeSessionCookie(
  response: ServerResponse,
  options: { secure: boolean; value: string | undefined; maxAgeSeconds: number },
): void {
  const { secure, value, maxAgeSeconds } = options;
  const attributes = [
    `${sessionCookieName(secure)}=${value === undefined ? "" : encodeURIComponent(value)}`,
    "Path=/",
    "HttpOnly",
    "SameSite=Strict",
    `Max-Age=${value === undefined ? 0 : maxAgeSeconds}`,
  ];
  if (secure) attributes.push("Secure");
  const previous = response.getHeader("set-cookie");
  const cookies = Array.isArray(previous) ? previous : previous ? [String(previous)] : [];
  response.setHeader("set-cookie", [...cookies, attributes.join("; ")]);
}
