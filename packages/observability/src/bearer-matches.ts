import { timingSafeEqual } from "node:crypto";

/** Whether an Authorization header is `Bearer <token>`, compared in constant time (e.g. NOA_METRICS_TOKEN). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.startsWith("Bearer ") ? header.slice(7) : "");
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
