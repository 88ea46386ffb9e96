import { createPgJobStore, type Database } from "@noa/db";
import {
  createJobEvents,
  createJobQueues,
  createJobService,
  createRedisOutageLog,
  type JobService,
  type JobsConfig,
  redisAddressOf,
} from "@noa/jobs";
import { Redis } from "ioredis";
import type { Logger } from "pino";

/**
 * The job service as rpc-server serves it: jobs in PostgreSQL, queued in BullMQ and watched over Redis
 * pub/sub, on connections of their own. While Redis is unreachable submissions are refused with
 * UNAVAILABLE (get and list still answer from the database); BullMQ's connection keeps reconnecting. A
 * Redis that stops answering with its connection open holds a submission 2 s at most (see
 * createJobService's `enqueueTimeoutMs`).
 */
export async function createJobBackend(deps: {
  redisUrl: string;
  database: Pick<Database, "pool" | "kind">;
  config: JobsConfig;
  logger: Logger;
}): Promise<{ service: JobService; close(): Promise<void> }> {
  const { config, logger } = deps;
  const connection = new Redis(deps.redisUrl, { maxRetriesPerRequest: null });
  const subscriber = new Redis(deps.redisUrl, { maxRetriesPerRequest: null });
  // One line when Redis goes away (its address and the error's code, no stack), a reminder a minute, one
  // when it is back: the workers' outage log.
  const outage = createRedisOutageLog({
    logger,
    address: redisAddressOf(connection.options),
    meanwhile: "SubmitJob answers UNAVAILABLE until it is back",
  });
  outage.watch(connection, "jobs");
  outage.watch(subscriber, "job events");
  const queues = createJobQueues({
    connection,
    prefix: config.prefix,
    webhookRetry: config.webhookRetry,
    logger,
  });
  const events = createJobEvents({ publisher: connection, subscriber, prefix: config.prefix });
  const service = createJobService({
    store: createPgJobStore(deps.database.pool),
    queues,
    events,
    callbackPolicy: config.callbackPolicy,
    maxAttempts: config.maxAttempts,
    isAvailable: () => connection.status === "ready",
    logger,
    // Workers reach the database by DATABASE_URL; the embedded PGlite serves this process only.
    notRunnable:
      deps.database.kind === "pglite"
        ? "jobs need DATABASE_URL (PostgreSQL shared with the workers); the embedded database serves rpc-server only"
        : undefined,
  });
  return {
    service,
    async close() {
      await events.close().catch(() => {});
      await queues.close().catch(() => {});
      connection.disconnect();
      subscriber.disconnect();
    },
  };
}
