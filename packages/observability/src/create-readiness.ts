import { elapsedMs } from "./elapsed-ms.js";

/** One dependency as readiness saw it. */
export interface DependencyState {
  status: "ok" | "down";
  /** How long the check took. */
  latencyMs: number;
  /** Why it is down (a message NOA wrote; never a connection string). */
  reason?: string;
}

/** What GET /health/ready reports. */
export interface ReadinessReport {
  /** True when every dependency is ok. */
  ready: boolean;
  dependencies: Record<string, DependencyState>;
  /** Usage records waiting to be written (they are while the database is down). */
  usageBuffered: number;
}

/** A dependency check: resolves when usable, rejects (or times out) when not. */
export type DependencyCheck = () => Promise<void>;

/**
 * Readiness of a replica: every check (rpc-server: PostgreSQL, Redis, at least one usable model; the
 * worker: PostgreSQL and Redis) is run at once, each bounded by `timeoutMs`. The replica keeps serving what it can while a dependency is
 * down (rate limits per replica, usage records buffered); readiness says so, and which one.
 */
export function createReadiness({
  checks,
  usageBuffered = () => 0,
  timeoutMs = 2_000,
}: {
  checks: Record<string, DependencyCheck>;
  usageBuffered?: () => number;
  timeoutMs?: number;
}): () => Promise<ReadinessReport> {
  return async () => {
    const entries = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => [name, await run(check, timeoutMs)] as const),
    );
    const dependencies = Object.fromEntries(entries);
    return {
      ready: entries.every(([, state]) => state.status === "ok"),
      dependencies,
      usageBuffered: usageBuffered(),
    };
  };
}

async function run(check: DependencyCheck, timeoutMs: number): Promise<DependencyState> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([check(), timeout]);
    return { status: "ok", latencyMs: elapsedMs(started) };
  } catch (error) {
    const reason = error instanceof DependencyDown ? error.message : describe(error);
    return { status: "down", latencyMs: elapsedMs(started), reason };
  } finally {
    clearTimeout(timer);
  }
}

/** Thrown by a check with a message meant for operators. */
export class DependencyDown extends Error {}

/** A short, safe reason: the error's code or a timeout, never a driver's message (it may hold a URL). */
function describe(error: unknown): string {
  if (error instanceof Error && error.message.startsWith("no answer within")) return error.message;
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? `unreachable (${code})` : "unreachable";
}
