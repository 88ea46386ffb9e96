import type { Redis } from "ioredis";
import type { SessionRevocations } from "./session-revocations.js";

/**
 * Revocations in Redis, shared by every BFF replica: one key per revoked session under `prefix`, with
 * Redis's own expiry (PX) at the session's, so the store cleans itself. A Redis that cannot answer makes
 * `isRevoked` throw: the caller refuses the request rather than honour a session that may have ended.
 */
export function createRedisSessionRevocations({
  redis,
  prefix,
  now = Date.now,
}: {
  redis: Pick<Redis, "set" | "exists">;
  /** Starts every key, so deployments (and tests) sharing a Redis never collide, e.g. `noa:bff:revoked-session:`. */
  prefix: string;
  now?: () => number;
}): SessionRevocations {
  return {
    async revoke(id, expiresAt) {
      const ms = Math.ceil(expiresAt - now());
      if (ms <= 0) return;
      await redis.set(prefix + id, "1", "PX", ms);
    },
    async isRevoked(id) {
      return (await redis.exists(prefix + id)) > 0;
    },
  };
}
