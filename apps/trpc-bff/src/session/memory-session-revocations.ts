import type { SessionRevocations } from "./session-revocations.js";

/**
 * Revocations in this process's memory: enough for one BFF replica. Behind several replicas a sign-out
 * would hold only on the replica that served it; give them Redis (createRedisSessionRevocations).
 * Entries are dropped once their session would have expired anyway.
 */
export function createMemorySessionRevocations({
  now = Date.now,
}: {
  now?: () => number;
} = {}): SessionRevocations {
  const revoked = new Map<string, number>();
  function dropExpired(): void {
    const time = now();
    for (const [id, expiresAt] of revoked) if (expiresAt <= time) revoked.delete(id);
  }
  return {
    async revoke(id, expiresAt) {
      dropExpired();
      if (expiresAt > now()) revoked.set(id, expiresAt);
    },
    async isRevoked(id) {
      const expiresAt = revoked.get(id);
      return expiresAt !== undefined && expiresAt > now();
    },
  };
}
