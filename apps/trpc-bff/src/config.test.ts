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
      redisUrl: undefined,
      redisPrefix: "noa",
    });
  });

  it("reads the BFF's variables and keeps only the origin of BFF_PUBLIC_ORIGIN", () => {
    const config = parseConfig({
      BFF_PORT: "4100",
      NOA_RPC_URL: "http://rpc.internal:8080",
      BFF_RPC_PROTOCOL: "connect",
      BFF_SESSION_SECRET: "s".repeat(40),
      BFF_PUBLIC_ORIGIN: "https://noa.example.com/playground/",
      REDIS_URL: "redis://redis:6379",
      NOA_JOBS_PREFIX: "staging",
    });
    expect(config).toMatchObject({
      port: 4100,
      rpcProtocol: "connect",
      publicOrigin: "https://noa.example.com",
      redisUrl: "redis://redis:6379",
      redisPrefix: "staging",
    });
  });

  it("reads an empty REDIS_URL or NOA_JOBS_PREFIX as unset, as the other apps do", () => {
    expect(parseConfig({ REDIS_URL: "", NOA_JOBS_PREFIX: "" })).toMatchObject({
      redisUrl: undefined,
      redisPrefix: "noa",
    });
  });

  it("names every bad variable", () => {
    expect(() => parseConfig({ BFF_SESSION_SECRET: "short", BFF_RPC_PROTOCOL: "http3" })).toThrow(
      /BFF_RPC_PROTOCOL.*BFF_SESSION_SECRET must be at least 32 characters|BFF_SESSION_SECRET must be at least 32 characters.*BFF_RPC_PROTOCOL/,
    );
  });
});
