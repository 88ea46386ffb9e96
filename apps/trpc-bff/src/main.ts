import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { createLogger, secretsFromEnv, startTracing } from "@noa/observability";
import { Redis } from "ioredis";
import { parseConfig } from "./config.js";
import { build } from "./server.js";
import { createMemorySessionRevocations } from "./session/memory-session-revocations.js";
import { createRedisSessionRevocations } from "./session/redis-session-revocations.js";
import type { SessionRevocations } from "./session/session-revocations.js";

/** Where `pnpm --filter @noa/trpc-bff build` puts the playground. */
const defaultStaticDir = fileURLToPath(new URL("../dist/playground", import.meta.url));

/**
 * Composition root: config, logger, Redis (when REDIS_URL is set), the transport to rpc-server, the
 * server; SIGTERM/SIGINT close the server, then Redis.
 */
async function main(): Promise<void> {
  const config = parseConfig(process.env);
  const logger = createLogger({
    service: "trpc-bff",
    level: config.logLevel,
    pretty: config.prettyLogs,
    secrets: secretsFromEnv(process.env),
  });
  const tracing = startTracing({ service: "trpc-bff" });
  let sessionSecret = config.sessionSecret;
  if (!sessionSecret) {
    sessionSecret = randomBytes(32).toString("base64url");
    logger.warn(
      "BFF_SESSION_SECRET is not set: sessions use a random secret and end when this process does (set it to share sessions between replicas and restarts)",
    );
  }
  // Sign-outs must hold on every replica: with Redis they are shared; without, each process keeps its own.
  let redis: Redis | undefined;
  let sessionRevocations: SessionRevocations;
  if (config.redisUrl) {
    redis = new Redis(config.redisUrl, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
    });
    redis.on("error", () => {});
    await redis.connect().catch((error: unknown) => {
      logger.warn(
        { err: error },
        "Redis is unreachable: requests with a session are refused until it is back",
      );
    });
    sessionRevocations = createRedisSessionRevocations({
      redis,
      prefix: `${config.redisPrefix}:bff:revoked-session:`,
    });
  } else {
    sessionRevocations = createMemorySessionRevocations();
    logger.warn(
      "REDIS_URL is not set: a sign-out holds on this process only (set it when several replicas serve the BFF)",
    );
  }
  // gRPC over h2c is one long-lived HTTP/2 connection multiplexing every call; Connect over HTTP/1.1
  // suits proxies that do not speak h2c.
  const transport =
    config.rpcProtocol === "grpc"
      ? createGrpcTransport({ baseUrl: config.rpcUrl })
      : createConnectTransport({ baseUrl: config.rpcUrl, httpVersion: "1.1" });
  const server = build({
    transport,
    logger,
    sessionSecret,
    sessionTtlSeconds: config.sessionTtlSeconds,
    sessionRevocations,
    secureCookies: config.publicOrigin?.startsWith("https:") ?? false,
    allowedOrigins: config.publicOrigin ? [config.publicOrigin] : undefined,
    staticDir: config.staticDir ?? defaultStaticDir,
    maxBodyBytes: config.maxBodyBytes,
  });
  const address = await server.listen(config.port, config.host);
  logger.info(
    { url: `http://${address.address}:${address.port}`, rpcUrl: config.rpcUrl, protocol: config.rpcProtocol },
    "trpc-bff listening",
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    void server
      .close()
      .then(() => redis?.quit())
      .then(() => tracing.shutdown())
      .finally(() => process.exit(0));
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
