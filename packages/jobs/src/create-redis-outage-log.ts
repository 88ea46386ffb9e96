import { isConnectionError } from "./is-connection-error.js";
import type { Logger } from "./logger.js";

/** What an ioredis client or a BullMQ worker's backend tells about its connection. */
export interface RedisConnectionEvents {
  on(event: "error", listener: (error: unknown) => void): unknown;
  on(event: "ready", listener: () => void): unknown;
}

/**
 * A process's Redis outages as an operator reads them: one error line when Redis becomes unreachable
 * (its address and the socket error's code, no stack), a reminder while it stays down, one info line
 * when it is back. Every connection of the process (its own, BullMQ's blocking ones) reports here, so an
 * outage is told once per process, not once per reconnection attempt of each connection.
 */
export interface RedisOutageLog {
  /**
   * Takes an error a Redis connection emitted. A connection failure is told as above and `true` is
   * returned; any other error returns `false`, for the caller to log as it would.
   */
  failed(error: unknown): boolean;
  /** A connection is ready: Redis answers, so an outage ends (one info line). */
  ready(): void;
  /**
   * Reports `connection`'s failures and readiness here; its other errors are logged (with their stack)
   * once until it is ready again, as ioredis repeats them at every reconnection.
   */
  watch(connection: RedisConnectionEvents, name: string): void;
  /** True from a connection failure until a connection is ready again. */
  readonly down: boolean;
}

/**
 * Builds the outage log of one process. `address` (host:port, never the URL: it may hold a password)
 * names Redis in each line; while it stays down, the next failure after `remindEveryMs` (a minute)
 * since the last line logs a reminder with how long it has been down.
 */
export function createRedisOutageLog({
  logger,
  address,
  meanwhile = "jobs wait until it is back",
  remindEveryMs = 60_000,
  now = Date.now,
}: {
  logger: Logger;
  address: string;
  /** What the outage means for this process, ending each line (a worker's jobs wait). */
  meanwhile?: string;
  remindEveryMs?: number;
  now?: () => number;
}): RedisOutageLog {
  let downSince: number | undefined;
  let toldAt = 0;

  function failed(error: unknown): boolean {
    const refusedAuth = authRefusalCode(error);
    if (refusedAuth === undefined && !isConnectionError(error)) return false;
    const code = refusedAuth ?? (error as { code: string }).code;
    // A refused password is as lasting as a refused connection, and ioredis retries it as often.
    const [state, stillState] = refusedAuth
      ? ["refuses the credentials in its URL", "still refuses the credentials in its URL"]
      : ["is unreachable", "is still unreachable"];
    const at = now();
    const fields = { redis: address, code };
    if (downSince === undefined) {
      downSince = at;
      toldAt = at;
      logger.error(fields, `Redis at ${address} ${state} (${code}): ${meanwhile}`);
    } else if (at - toldAt >= remindEveryMs) {
      toldAt = at;
      const downForSeconds = Math.round((at - downSince) / 1000);
      logger.warn(
        { ...fields, downForSeconds },
        `Redis at ${address} ${stillState} after ${formatDuration(downForSeconds)} (${code}): ${meanwhile}`,
      );
    }
    return true;
  }

  function ready(): void {
    if (downSince === undefined) return;
    const downForSeconds = Math.round((now() - downSince) / 1000);
    downSince = undefined;
    logger.info(
      { redis: address, downForSeconds },
      `Redis at ${address} is reachable again after ${formatDuration(downForSeconds)}`,
    );
  }

  return {
    failed,
    ready,
    watch(connection, name) {
      let told = false;
      connection.on("error", (error) => {
        if (failed(error) || told) return;
        told = true;
        logger.warn({ err: error, connection: name }, "Redis connection error");
      });
      connection.on("ready", () => {
        told = false;
        ready();
      });
    },
    get down() {
      return downSince !== undefined;
    },
  };
}

/** `45 s`, `3 min 20 s`, `2 h 5 min`. */
function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/**
 * The error code of Redis's refusal of the AUTH ioredis sends on connecting (WRONGPASS, NOAUTH…: the
 * first word of an error reply is its code, by the protocol), or undefined for any other error.
 */
function authRefusalCode(error: unknown): string | undefined {
  if (!(error instanceof Error) || (error as { command?: { name?: unknown } }).command?.name !== "auth") {
    return undefined;
  }
  return /^[A-Z]+/.exec(error.message)?.[0];
}
