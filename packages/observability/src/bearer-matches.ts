import { timingSafeEqual } from "node:crypto";

/**
 * Whether an Authorization header is `Bearer <token>`, compared in constant time (e.g. NOA_METRICS_TOKEN).
 * The scheme is case-insensitive and may be followed by more than one space or tab, as the API accepts it
 * (RFC 9110 §11.1: https://www.rfc-editor.org/rfc/rfc9110#section-11.1).
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = header === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  const given = Buffer.from(match?.[1] ?? "");
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
