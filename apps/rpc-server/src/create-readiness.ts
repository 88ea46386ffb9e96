import type { FailoverRateLimiter, UsageLedger } from "@noa/access";

/** What GET /ready reports: each dependency's state; warnings do not make the replica unready. */
export interface ReadinessReport {
  database: "ok" | "unreachable";
  rateLimits: "shared" | "local";
  usageBuffered: number;
  warnings: string[];
}

/**
 * Readiness of a serving replica. A dependency outage degrades it (rate limits per replica, usage
 * records buffered) but does not take it out of the load balancer: every replica would see the same
 * outage, and requests are still served. Only shutdown makes it unready (see server.ts).
 */
export function createReadiness({
  pingDatabase,
  rateLimiter,
  ledger,
}: {
  pingDatabase: () => Promise<void>;
  rateLimiter: Pick<FailoverRateLimiter, "mode">;
  ledger: Pick<UsageLedger, "stats">;
}): () => Promise<ReadinessReport> {
  return async () => {
    const database = await pingDatabase().then(
      () => "ok" as const,
      () => "unreachable" as const,
    );
    const rateLimits = rateLimiter.mode();
    const { buffered } = ledger.stats();
    const warnings: string[] = [];
    if (database === "unreachable")
      warnings.push("database unreachable: usage records are buffered in memory");
    if (rateLimits === "local") warnings.push("Redis unreachable: rate limits are enforced per replica");
    return { database, rateLimits, usageBuffered: buffered, warnings };
  };
}
