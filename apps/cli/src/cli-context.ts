import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { createNoaClient, type NoaClient, type TransportFactory } from "@noa/client";
import { CliError } from "./cli-error.js";
import { ExitCode } from "./exit-codes.js";

/** The options every command shares (flags or NOA_URL / NOA_API_KEY). */
export interface GlobalOptions {
  url: string;
  apiKey?: string;
  protocol: "grpc" | "connect" | "grpc-web";
  json?: boolean;
}

/** What a command runs with: its output streams, the parsed global options and a way to get a client. */
export interface CliContext {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  stdin: NodeJS.ReadStream;
  env: NodeJS.ProcessEnv;
  options(): GlobalOptions;
  /** A client for the configured server; fails with exit code 3 when no key is configured. */
  client(): NoaClient;
}

const transports: Record<GlobalOptions["protocol"], TransportFactory> = {
  // HTTP/2: one connection, and a cancelled call is a RST_STREAM the server sees at once.
  grpc: (options) => createGrpcTransport(options),
  connect: (options) => createConnectTransport({ ...options, httpVersion: "1.1" }),
  "grpc-web": (options) => createGrpcWebTransport({ ...options, httpVersion: "1.1" }),
};

/** Builds the context from process streams and a getter of the parsed global options. */
export function createCliContext(getOptions: () => GlobalOptions, env: NodeJS.ProcessEnv): CliContext {
  let client: NoaClient | undefined;
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env,
    options: getOptions,
    client() {
      const { url, apiKey, protocol } = getOptions();
      if (!apiKey) {
        throw new CliError(
          "no API key: pass --api-key or set NOA_API_KEY (the server printed an admin key on its first start)",
          ExitCode.auth,
        );
      }
      let baseUrl: URL;
      try {
        baseUrl = new URL(url);
      } catch {
        throw new CliError(
          `--url must be a URL such as http://localhost:8080 (got "${url}")`,
          ExitCode.usage,
        );
      }
      client ??= createNoaClient({
        baseUrl: baseUrl.toString(),
        apiKey,
        transport: transports[protocol],
      });
      return client;
    },
  };
}
