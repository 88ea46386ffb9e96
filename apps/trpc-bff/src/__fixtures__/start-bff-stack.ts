import type { Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import type { RateLimiter } from "@noa/access";
import { createLogger } from "@noa/observability";
import {
  createLlamaCppProvider,
  createModelRegistry,
  createOpenAIProvider,
  createRouter,
  parseRoutingConfig,
} from "@noa/providers";
import {
  OPENAI_LOOPBACK_API_KEY,
  startOpenAILoopbackServer,
  tinyModelPath,
  tinyModelThreads,
} from "@noa/providers/testing";
import { build as buildRpcServer } from "@noa/rpc-server/server";
import { createTestAccess } from "@noa/rpc-server/testing";
import { type BffDeps, build } from "../server.js";

/** The model the stack serves through llama.cpp, for real. */
export const tinyModel = "llama-cpp/llama-2-tiny-random";
/** A model served by the real OpenAI provider from a loopback server that streams one word every `slowChunkMs`. */
export const slowModel = "openai/gpt-4o-mini";

/**
 * The BFF in front of a real rpc-server, both on loopback ports, composed as their main.ts files do: the
 * tiny llama model, the OpenAI provider against a slow loopback server, API-key access with a bootstrapped
 * admin and a user key of tenant `web` (inference, models:read, jobs). Headers that reach rpc-server are
 * recorded. close() disposes it all.
 */
export async function startBffStack(
  options: {
    protocol?: "grpc" | "connect";
    rateLimiter?: RateLimiter;
    staticDir?: string;
    slowChunkMs?: number;
    rpcTimeoutMs?: number;
  } = {},
) {
  const rpcLogs: Array<Record<string, unknown>> = [];
  const bffLogs: Array<Record<string, unknown>> = [];
  const rpcLogger = createLogger({
    service: "rpc-server",
    env: "test",
    destination: { write: (line: string) => rpcLogs.push(JSON.parse(line)) },
  });
  const bffLogger = createLogger({
    service: "trpc-bff",
    env: "test",
    destination: { write: (line: string) => bffLogs.push(JSON.parse(line)) },
  });
  const access = await createTestAccess({ rateLimiter: options.rateLimiter });
  const loopback = await startOpenAILoopbackServer({ chunkDelayMs: options.slowChunkMs ?? 60 });
  const llamaCpp = createLlamaCppProvider({
    modelPaths: [tinyModelPath],
    threads: tinyModelThreads,
    sequencesPerModel: 2,
    logger: rpcLogger,
  });
  const openai = createOpenAIProvider({
    apiKey: OPENAI_LOOPBACK_API_KEY,
    baseURL: loopback.baseURL,
    logger: rpcLogger,
  });
  const registry = createRouter({
    registry: createModelRegistry({ providers: [llamaCpp, openai] }),
    config: parseRoutingConfig({ retry: { maxAttempts: 1 } }),
    logger: rpcLogger,
  });
  const rpcServer = buildRpcServer({ registry, logger: rpcLogger, access: access.access });
  const rpc = await rpcServer.listen(0, "127.0.0.1");
  const rpcUrl = `http://127.0.0.1:${rpc.port}`;

  const user = await access.apiKeys.create({
    name: "web user",
    tenant: "web",
    scopes: ["inference", "models:read", "jobs"],
  });

  /** What the BFF sent to rpc-server with each call (authorization redacted to the key's prefix). */
  const rpcCalls: Array<{
    method: string;
    authorization: string;
    correlationId: string;
    traceparent: string;
  }> = [];
  const recordHeaders: Interceptor = (next) => async (request) => {
    rpcCalls.push({
      method: request.method.name,
      authorization: request.header.get("authorization") ?? "",
      correlationId: request.header.get("x-correlation-id") ?? "",
      traceparent: request.header.get("traceparent") ?? "",
    });
    return next(request);
  };
  const transport =
    options.protocol === "connect"
      ? createConnectTransport({ baseUrl: rpcUrl, httpVersion: "1.1", interceptors: [recordHeaders] })
      : createGrpcTransport({ baseUrl: rpcUrl, interceptors: [recordHeaders] });
  const sessionSecret = "test-session-secret-0123456789abcdef";
  const bff = build({
    transport,
    logger: bffLogger,
    sessionSecret,
    staticDir: options.staticDir,
    rpcTimeoutMs: options.rpcTimeoutMs,
  });
  const address = await bff.listen(0, "127.0.0.1");
  const replicas: Array<ReturnType<typeof build>> = [];

  return {
    bffUrl: `http://127.0.0.1:${address.port}`,
    rpcUrl,
    /** A key of tenant `web` with inference, models:read and jobs. */
    userKey: user.key,
    adminKey: access.adminKey,
    apiKeys: access.apiKeys,
    /** The real llama.cpp generations: `recentGenerations` says how each ended. */
    llama: llamaCpp.manager,
    /** What the slow OpenAI loopback server saw: `closedByClient` once rpc-server cancelled upstream. */
    loopback,
    usageRecords: access.usageRecords,
    rpcCalls,
    rpcLogs,
    bffLogs,
    /** Stops the BFF alone (as a crash or a deploy would), leaving rpc-server running. */
    stopBff: () => bff.close(),
    /** Another BFF replica in front of the same rpc-server, with the same session secret; closed by close(). */
    async startReplica(deps: Pick<BffDeps, "sessionRevocations"> = {}) {
      const replica = build({ transport, logger: bffLogger, sessionSecret, ...deps });
      replicas.push(replica);
      const { port } = await replica.listen(0, "127.0.0.1");
      return `http://127.0.0.1:${port}`;
    },
    async close() {
      await Promise.all(replicas.map((replica) => replica.close()));
      await bff.close();
      await rpcServer.close({ graceMs: 0 });
      await registry.close();
      await access.close();
      await loopback.close();
    },
  };
}

export type BffStack = Awaited<ReturnType<typeof startBffStack>>;
