import { createHmac, timingSafeEqual } from "node:crypto";

/** The header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export const signatureHeader = "x-noa-signature";

/** Signs a webhook body: HMAC-SHA256 over `<timestamp>.<body>` with the shared secret (Stripe's scheme). */
export function signWebhook(secret: string, body: string, timestampSeconds: number): string {
  const mac = createHmac("sha256", secret).update(`${timestampSeconds}.${body}`).digest("hex");
  return `t=${timestampSeconds},v1=${mac}`;
}

/**
 * Verifies a webhook as a receiver should: the signature matches the raw body (compared in constant time)
 * and the timestamp is within `toleranceSeconds` of now, so a captured request cannot be replayed later.
 */
export function verifyWebhook(options: {
  secret: string;
  body: string;
  header: string | undefined;
  toleranceSeconds?: number;
  nowSeconds?: number;
}): boolean {
  const {
    secret,
    body,
    header,
    toleranceSeconds = 300,
    nowSeconds = Math.floor(Date.now() / 1000),
  } = options;
  if (!header) return false;
  const fields = new Map(
    header.split(",").map((part) => {
      const equals = part.indexOf("=");
      return [part.slice(0, equals).trim(), part.slice(equals + 1).trim()] as const;
    }),
  );
  const timestamp = Number(fields.get("t"));
  const given = fields.get("v1") ?? "";
  if (!Number.isInteger(timestamp) || Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false;
  const expected = createHmac("sha256", secret).update(`${timestamp}.${body}`).digest();
  const actual = Buffer.from(given, "hex");
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
