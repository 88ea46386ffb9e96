import { describe, expect, it } from "vitest";
import { parseConfig } from "./config.js";

describe("parseConfig", () => {
  it("has defaults that reach a local rpc-server over gRPC", () => {
    expect(parseConfig({})).toMatchObject({
      host: "127.0.0.1",
      port: 3000,
      rpcUrl: "http://127.0.0.1:8080",
      rpcProtocol: "grpc",
      sessionSecret: undefined,
      publicOrigin: undefined,
    });
  });

  it("reads the BFF's variables and keeps only the origin of BFF_PUBLIC_ORIGIN", () => {
    const config = parseConfig({
      BFF_PORT: "4100",
      NOA_RPC_URL: "http://rpc.internal:8080",
      BFF_RPC_PROTOCOL: "connect",
      BFF_SESSION_SECRET: "s".repeat(40),
      BFF_PUBLIC_ORIGIN: "https://noa.example.com/playground/",
    });
    expect(config).toMatchObject({
      port: 4100,
      rpcProtocol: "connect",
      publicOrigin: "https://noa.example.com",
    });
  });

  it("names every bad variable", () => {
    expect(() => parseConfig({ BFF_SESSION_SECRET: "short", BFF_RPC_PROTOCOL: "http3" })).toThrow(
      /BFF_RPC_PROTOCOL.*BFF_SESSION_SECRET must be at least 32 characters|BFF_SESSION_SECRET must be at least 32 characters.*BFF_RPC_PROTOCOL/,
    );
  });
});
