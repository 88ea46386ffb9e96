import { createLogger, type Tracing } from "@noa/observability";
import {
  createLlamaCppProvider,
  createModelRegistry,
  createRouter,
  type Provider,
  parseRoutingConfig,
} from "@noa/providers";
import { tinyModelPath, tinyModelThreads } from "@noa/providers/testing";
import { createMetrics } from "../create-metrics.js";
import { build, type ServerDeps } from "../server.js";
import { createTestAccess, withKey } from "./create-test-access.js";

/**
 * A real rpc-server on a free loopback port, composed like main.ts: the tiny llama model plus any
 * extra providers, behind the router. close() disposes it all.
 */
export async function startTestServer(
  options: {
    sequencesPerModel?: number;
    providers?: Provider[];
    routing?: unknown;
    access?: Awaited<ReturnType<typeof createTestAccess>>;
    /** CORS, body limit and request timeout, as main.ts passes them. */
    http?: ServerDeps["http"];
    /** The response cache, as main.ts builds it (createCompletionCache); none by default. */
    cache?: ServerDeps["cache"];
    /** Log prompts and answers (NOA_LOG_CONTENT). */
    logContent?: boolean;
    /** The process's tracing, whose lost spans /metrics reports. */
    tracing?: Tracing;
  } = {},
) {
  const testAccess = options.access ?? (await createTestAccess());
  const logs: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    service: "rpc-server",
    env: "test",
    destination: { write: (line: string) => logs.push(JSON.parse(line)) },
  });
  const llamaCpp = createLlamaCppProvider({
    modelPaths: [tinyModelPath],
    threads: tinyModelThreads,
    sequencesPerModel: options.sequencesPerModel ?? 4,
    logger,
  });
  const registry = createRouter({
    registry: createModelRegistry({ providers: [llamaCpp, ...(options.providers ?? [])] }),
    config: parseRoutingConfig(options.routing),
    logger,
  });
  const server = build({
    registry,
    logger,
    metrics: createMetrics({ registry, tracing: options.tracing }),
    access: testAccess.access,
    http: options.http,
    cache: options.cache,
    logContent: options.logContent,
  });
  const { port } = await server.listen(0, "127.0.0.1");
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    port,
    manager: llamaCpp.manager,
    logs,
    modelId: "llama-cpp/llama-2-tiny-random",
    server,
    /** The bootstrapped admin key, and an interceptor that sends it. */
    adminKey: testAccess.adminKey,
    auth: withKey(testAccess.adminKey),
    access: testAccess,
    async close(graceMs = 0) {
      await server.close({ graceMs });
      await registry.close();
      await testAccess.close();
    },
  };
}

export type TestServer = Awaited<ReturnType<typeof startTestServer>>;
