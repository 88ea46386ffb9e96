import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { startTracing } from "@noa/observability";
import { InMemorySpanExporter } from "@noa/observability/testing";
import { InferenceService, Role } from "@noa/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeServer, startFakeServer } from "./__fixtures__/start-fake-server.js";

const spans = new InMemorySpanExporter();
const tracing = startTracing({ service: "rpc-server", exporter: spans });
let server: FakeServer;
beforeAll(async () => {
  server = await startFakeServer({ requestBurst: 3 });
});
afterAll(async () => {
  await server?.close();
  await tracing.shutdown();
});

/** noa_rpc_requests_total for Complete over `protocol` with `code`, from a scrape. */
function completeCount(text: string, protocol: string, code: string): number {
  const line = `noa_rpc_requests_total{service="noa.inference.v1.InferenceService",method="Complete",protocol="${protocol}",code="${code}"} `;
  const found = text.split("\n").find((sample) => sample.startsWith(line));
  return found ? Number(found.slice(line.length)) : 0;
}

describe("the rpc log line", () => {
  it("spells a failed call's code as its metric (and its span) does, for every kind of failure", async () => {
    const transport = createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [server.auth] });
    const inference = createClient(InferenceService, transport);
    const anonymous = createClient(
      InferenceService,
      createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1" }),
    );
    const messages = [{ role: Role.USER, content: "hi" }];
    const as = (id: string) => ({ headers: { "x-correlation-id": id } });
    const calls: Array<[string, (id: string) => Promise<unknown>]> = [
      ["no-key", (id) => anonymous.complete({ model: "fake/short", messages }, as(id))],
      ["no-model", (id) => inference.complete({ model: "fake/no-such-model", messages }, as(id))],
      ["no-messages", (id) => inference.complete({ model: "fake/short", messages: [] }, as(id))],
      ["upstream-down", (id) => inference.complete({ model: "fake/failing", messages }, as(id))],
      // The bucket held 3: this one is refused.
      ["rate-limited", (id) => inference.complete({ model: "fake/short", messages }, as(id))],
    ];
    const before = await server.scrape();
    const codes: Code[] = [];
    for (const [id, call] of calls) {
      codes.push(
        await call(id).then(
          () => Code.Unknown,
          (error) => ConnectError.from(error).code,
        ),
      );
    }
    expect(codes).toEqual([
      Code.Unauthenticated,
      Code.NotFound,
      Code.InvalidArgument,
      Code.Unavailable,
      Code.ResourceExhausted,
    ]);
    const after = await server.scrape();

    const logged = calls.map(([id]) => {
      const line = server.logs.find((entry) => entry.msg === "rpc" && entry.correlationId === id);
      return [line?.protocol, line?.code];
    });
    expect(logged).toEqual([
      ["connect", "unauthenticated"],
      ["grpc", "not_found"],
      ["grpc", "invalid_argument"],
      ["grpc", "unavailable"],
      ["grpc", "resource_exhausted"],
    ]);
    // Each line's code is a label value of the metric that counted the same call.
    for (const [protocol, code] of logged as Array<[string, string]>) {
      expect(completeCount(after, protocol, code) - completeCount(before, protocol, code), code).toBe(1);
    }
    const spanCodes = spans
      .getFinishedSpans()
      .filter((span) => span.name === "noa.inference.v1.InferenceService/Complete")
      .map((span) => span.attributes["rpc.connect_rpc.error_code"]);
    expect(spanCodes.slice(-calls.length)).toEqual(logged.map(([, code]) => code));
  });
});
