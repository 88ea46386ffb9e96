import { createHash, randomBytes, randomUUID } from "node:crypto";
import { EncryptJWT, jwtDecrypt } from "jose";

/** What a browser session holds: the caller's own NOA API key and the session's CSRF token. */
export interface Session {
  /** Names the session, so that signing out can revoke it (SessionRevocations) on every replica. */
  id: string;
  apiKey: string;
  csrfToken: string;
  /** The key's public prefix (`noa_<id>`), safe to show. */
  keyPrefix: string;
  /** When the session ends, in ms since the epoch. */
  expiresAt: number;
}

/** Seals sessions into an encrypted token for a cookie, and opens them again. */
export interface SessionSealer {
  seal(session: Pick<Session, "apiKey" | "keyPrefix">): Promise<{ token: string; session: Session }>;
  /**
   * The session in `token`, or undefined when it is missing, forged, tampered with or expired (whether it
   * was revoked is for SessionRevocations to say).
   */
  open(token: string | undefined): Promise<Session | undefined>;
  readonly ttlSeconds: number;
}

/**
 * Sessions as JWE (`dir` + A256GCM, jose): the API key inside is encrypted and authenticated with a key
 * derived from `secret`, so the browser can neither read nor change it, and any BFF replica with the same
 * secret can open it. Each session has an id (`jti`), which is what sign-out revokes.
 */
export function createSessionSealer({
  secret,
  ttlSeconds = 12 * 60 * 60,
  now = () => Date.now(),
}: {
  secret: string;
  ttlSeconds?: number;
  now?: () => number;
}): SessionSealer {
  const key = createHash("sha256").update(`noa-bff-session\0${secret}`).digest();
  return {
    ttlSeconds,
    async seal({ apiKey, keyPrefix }) {
      const issuedAt = Math.floor(now() / 1_000);
      const session: Session = {
        id: randomUUID(),
        apiKey,
        keyPrefix,
        csrfToken: randomBytes(24).toString("base64url"),
        expiresAt: (issuedAt + ttlSeconds) * 1_000,
      };
      const token = await new EncryptJWT({ key: apiKey, prefix: keyPrefix, csrf: session.csrfToken })
        .setProtectedHeader({ alg: "dir", enc: "A256GCM" })
        .setJti(session.id)
        .setIssuedAt(issuedAt)
        .setExpirationTime(issuedAt + ttlSeconds)
        .encrypt(key);
      return { token, session };
    },
    async open(token) {
      if (!token) return undefined;
      try {
        const { payload } = await jwtDecrypt(token, key, {
          currentDate: new Date(now()),
          keyManagementAlgorithms: ["dir"],
          contentEncryptionAlgorithms: ["A256GCM"],
        });
        const { jti: id, key: apiKey, prefix, csrf, exp } = payload;
        // A token without an id (sealed before sessions had one) could not be revoked: sign in again.
        if (
          typeof id !== "string" ||
          typeof apiKey !== "string" ||
          typeof csrf !== "string" ||
          typeof exp !== "number"
        )
          return undefined;
        return {
          id,
          apiKey,
          keyPrefix: typeof prefix === "string" ? prefix : "",
          csrfToken: csrf,
          expiresAt: exp * 1_000,
        };
      } catch {
        return undefined;
      }
    },
  };
}

/** The public part of a NOA key (`noa_<id>`), never its secret. */
export function keyPrefixOf(apiKey: string): string {
  const match = /^(noa_[A-Za-z0-9]+)_/.exec(apiKey);
  return match?.[1] ?? `${apiKey.slice(0, 4)}…`;
}
