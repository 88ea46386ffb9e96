import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { createJobQueues, type JobQueues } from "../job-queues.js";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/**
 * The job queues under a prefix of their own on the test Redis; `close` closes them and deletes every
 * key under the prefix.
 */
export function openTestQueues(): {
  queues: JobQueues;
  connection: Redis;
  prefix: string;
  close(): Promise<void>;
} {
  const prefix = `noa-test-${randomBytes(5).toString("hex")}`;
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queues = createJobQueues({ connection, prefix });
  return {
    queues,
    connection,
    prefix,
    async close() {
      await queues.close();
      const keys = await connection.keys(`${prefix}:*`);
      if (keys.length > 0) await connection.del(...keys);
      connection.disconnect();
    },
  };
}
