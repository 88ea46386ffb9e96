import { timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

/** The header a mutation must carry: the session's CSRF token (or, to sign in, any non-empty value). */
export const csrfHeader = "x-csrf-token";

/**
 * The connection parameter (`?connectionParams={"csrfToken":…}`) that carries a subscription's CSRF token:
 * EventSource cannot set headers.
 */
export const csrfConnectionParam = "csrfToken";

/**
 * Why a mutation or subscription must be refused as cross-site, or undefined when it may run. Two checks:
 * an `Origin` header, when the browser sends one, must be one of `allowedOrigins` (default: the origin
 * the request was addressed to); and the token sent (the `x-csrf-token` header, or `sentToken`) must
 * equal the session's (double submit: the token comes from `auth.session`/`auth.signIn`, readable only
 * by same-origin script). Without a session (signing in) the header must still be present: a custom
 * header makes a cross-origin request need a CORS preflight, which the BFF never grants.
 */
export function checkCsrf(
  headers: IncomingHttpHeaders,
  options: {
    allowedOrigins: readonly string[] | undefined;
    sessionToken: string | undefined;
    /** A subscription's token, from its `csrfToken` connection parameter; default: the header's. */
    sentToken?: string;
  },
): string | undefined {
  const origin = headers.origin;
  if (origin !== undefined) {
    const allowed = options.allowedOrigins ?? [`http://${headers.host}`, `https://${headers.host}`];
    if (!allowed.includes(origin)) return `requests from ${origin} are not allowed`;
  }
  const header = headers[csrfHeader];
  const sent = options.sentToken || (Array.isArray(header) ? header[0] : header);
  if (!sent) return `the CSRF token (${csrfHeader}) is missing`;
  if (options.sessionToken === undefined) return undefined;
  const expected = Buffer.from(options.sessionToken);
  const actual = Buffer.from(sent);
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
    return `the CSRF token (${csrfHeader}) does not match this session; reload the page`;
  }
  return undefined;
}
