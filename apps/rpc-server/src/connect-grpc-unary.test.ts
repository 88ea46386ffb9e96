import { getEventListeners, setMaxListeners } from "node:events";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import {
  Health,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from "@noa/proto/grpc/health/v1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * NOA's patch of @connectrpc/connect (patches/@connectrpc__connect@2.1.2.patch) answers a unary gRPC call
 * without the streaming output pipeline. What clients get, and what the server keeps, must not change.
 */
describe("unary gRPC calls through the patched Connect handler", () => {
  const shutdown = new AbortController();
  // Every call in flight listens to it, as to the server's (server.ts allows any number too).
  setMaxListeners(0, shutdown.signal);
  const callSignals: AbortSignal[] = [];
  let server: http2.Http2Server;
  const sessions = new Set<http2.ServerHttp2Session>();
  let client: ReturnType<typeof createClient<typeof Health>>;

  beforeAll(async () => {
    const handler = connectNodeAdapter({
      shutdownSignal: shutdown.signal,
      routes: (router) =>
        router.service(Health, {
          check(request, context) {
            callSignals.push(context.signal);
            if (request.service === "refused") throw new ConnectError("not here", Code.FailedPrecondition);
            if (request.service === "bug") throw new Error("secret internal detail");
            return create(HealthCheckResponseSchema, { status: HealthCheckResponse_ServingStatus.SERVING });
          },
        }),
    });
    server = http2.createServer(handler);
    server.on("session", (session) => sessions.add(session));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    client = createClient(Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
  });
  afterAll(async () => {
    for (const session of sessions) session.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it("answers with the message, or with the error's code and message, and hides an unexpected error's text", async () => {
    expect((await client.check({ service: "" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    const refused = ConnectError.from(await client.check({ service: "refused" }).catch((error) => error));
    expect([refused.code, refused.rawMessage]).toEqual([Code.FailedPrecondition, "not here"]);
    const bug = ConnectError.from(await client.check({ service: "bug" }).catch((error) => error));
    expect([bug.code, bug.rawMessage]).toEqual([Code.Internal, "internal error"]);
  });

  it("ends each call's signal and deadline once it is answered, leaving nothing on the server's shutdown signal", async () => {
    callSignals.length = 0;
    const timers = () => process.getActiveResourcesInfo().filter((type) => type === "Timeout").length;
    const before = timers();
    const services = Array.from({ length: 30 }, (_, index) => ["", "refused", "bug"][index % 3] as string);
    await Promise.all(
      services.map((service) => client.check({ service }, { timeoutMs: 60_000 }).catch(() => undefined)),
    );
    expect(callSignals).toHaveLength(30);
    expect(callSignals.filter((signal) => !signal.aborted)).toEqual([]);
    expect(getEventListeners(shutdown.signal, "abort")).toHaveLength(0);
    // A deadline left running would hold its call for the whole minute.
    expect(timers() - before).toBeLessThan(5);
  });
});
