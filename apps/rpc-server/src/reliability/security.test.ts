import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ApiKeyService, InferenceService, JobService, ModelService, UsageService } from "@noa/proto";
import { Health } from "@noa/proto/grpc/health/v1";
import { ServerReflection } from "@noa/proto/grpc/reflection/v1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../__fixtures__/start-test-server.js";

// Issue 10's security sweep: every route and every RPC refuses a caller without credentials (or with a
// wrong key), except liveness, readiness and gRPC health; no refusal echoes the key it was sent.
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const wrongKey = `noa_AAAAAAAAAA_${"B".repeat(43)}`;
const restRoutes: Array<[method: string, path: string]> = [
  ["POST", "/v1/chat/completions"],
  ["POST", "/v1/completions"],
  ["GET", "/v1/models"],
  ["GET", "/v1/models/llama-cpp%2Fllama-2-tiny-random"],
  ["POST", "/v1/jobs"],
  ["GET", "/v1/jobs"],
  ["GET", "/v1/jobs/00000000-0000-0000-0000-000000000000"],
  ["GET", "/health/detailed"],
  ["GET", "/status"],
];

describe("without credentials", () => {
  it.each(restRoutes)("%s %s is refused with 401, and so is a wrong key", async (method, path) => {
    const attempts: Array<Record<string, string>> = [{}, { authorization: `Bearer ${wrongKey}` }];
    for (const headers of attempts) {
      const response = await fetch(`${server.baseUrl}${path}`, {
        method,
        headers: { "content-type": "application/json", ...headers },
        ...(method === "POST" && { body: "{}" }),
      });
      const text = await response.text();
      // The jobs routes exist only with a job backend; without one they are unknown (404) — still refused.
      expect(path.startsWith("/v1/jobs") ? [401, 404] : [401]).toContain(response.status);
      expect(text).not.toContain(wrongKey);
    }
  });

  const services: DescService[] = [
    InferenceService,
    ModelService,
    ApiKeyService,
    UsageService,
    JobService,
    ServerReflection,
  ];
  for (const service of services) {
    it(`every ${service.typeName} RPC is refused as UNAUTHENTICATED`, async () => {
      const client = createClient(service, createGrpcTransport({ baseUrl: server.baseUrl })) as Record<
        string,
        (request: object) => unknown
      >;
      for (const method of service.methods) {
        const call = client[method.localName] as (request: unknown) => unknown;
        const request =
          method.methodKind === "bidi_streaming" || method.methodKind === "client_streaming"
            ? (async function* () {})()
            : {};
        const result = call(request);
        const error = await (async () => {
          try {
            if (typeof (result as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function") {
              for await (const _ of result as AsyncIterable<unknown>) {
                // drain
              }
            } else await result;
            return undefined;
          } catch (caught) {
            return ConnectError.from(caught);
          }
        })();
        // JobService is not served without a job backend: UNIMPLEMENTED is a refusal too.
        const allowed =
          service === JobService ? [Code.Unauthenticated, Code.Unimplemented] : [Code.Unauthenticated];
        expect(allowed, `${service.typeName}/${method.name}`).toContain(error?.code);
      }
    });
  }

  it("serves only liveness, readiness and gRPC health", async () => {
    for (const path of ["/health", "/health/ready", "/ready"]) {
      expect((await fetch(`${server.baseUrl}${path}`)).status).toBe(200);
    }
    const health = createClient(Health, createGrpcTransport({ baseUrl: server.baseUrl }));
    expect((await health.check({ service: "" })).status).toBeDefined();
  });
});
