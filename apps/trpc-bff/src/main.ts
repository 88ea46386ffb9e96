import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { createLogger, secretsFromEnv, startTracing } from "@noa/observability";
import { parseConfig } from "./config.js";
import { build } from "./server.js";

/** Where `pnpm --filter @noa/trpc-bff build` puts the playground. */
const defaultStaticDir = fileURLToPath(new URL("../dist/playground", import.meta.url));

/** Composition root: config, logger, the transport to rpc-server, the server; SIGTERM/SIGINT close it. */
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
