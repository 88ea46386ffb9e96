import { createGrpcTransport } from "@connectrpc/connect-node";
import { startJobCluster } from "@noa/rpc-server/job-cluster";
import { pino } from "pino";
import { build } from "../server.js";

/** The model jobs run on: the real OpenAI provider against a loopback server that can inject faults. */
export const jobModel = "openai/gpt-4o-mini";

/**
 * The BFF in front of rpc-server's job cluster (startJobCluster: a fresh PostgreSQL database, a BullMQ
 * prefix of its own on the local Redis, one apps/worker process running two jobs at once, the OpenAI
 * provider against a loopback server streaming a chunk every 40 ms; jobs get 2 attempts). close() stops
 * and removes it all.
 */
export async function startJobStack(
  options: {
    staticDir?: string;
    /** Extra environment for the worker process. */
    workerEnv?: Record<string, string>;
  } = {},
) {
  const cluster = await startJobCluster({
    workers: 1,
    concurrency: 2,
    chunkDelayMs: 40,
    env: { NOA_JOB_MAX_ATTEMPTS: "2" },
    workerEnv: options.workerEnv,
  });
  try {
    const bff = build({
      transport: createGrpcTransport({ baseUrl: cluster.baseUrl }),
      logger: pino({ level: "silent" }),
      sessionSecret: "job-test-session-secret-0123456789abcdef",
      staticDir: options.staticDir,
    });
    const address = await bff.listen(0, "127.0.0.1");
    return {
      bffUrl: `http://127.0.0.1:${address.port}`,
      openai: cluster.openai,
      /** A key of its own for `tenant`, with the jobs, models:read and inference scopes. */
      keyFor: (tenant: string) => cluster.keyFor(tenant, ["jobs", "models:read", "inference"]),
      async close() {
        await bff.close();
        await cluster.close();
      },
    };
  } catch (error) {
    await cluster.close();
    throw error;
  }
}

export type JobStack = Awaited<ReturnType<typeof startJobStack>>;
