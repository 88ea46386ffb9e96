/**
 * Sessions ended before their cookie expires (auth.signOut). A sealed session cookie stays cryptographically
 * valid for its whole lifetime, so a copy of it keeps working unless every request asks this store too.
 */
export interface SessionRevocations {
  /** Records session `id` as revoked until `expiresAt` (ms since the epoch), when its cookie dies anyway. */
  revoke(id: string, expiresAt: number): Promise<void>;
  /** Whether session `id` was revoked; throws when the store cannot say (callers refuse the request then). */
  isRevoked(id: string): Promise<boolean>;
}
