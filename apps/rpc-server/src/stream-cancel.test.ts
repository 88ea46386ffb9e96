import { randomUUID } from "node:crypto";
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { InferenceService, Role } from "@noa/proto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startTestServer, type TestServer } from "./__fixtures__/start-test-server.js";

// A client that cancels a stream of the real (fast) local model a few tokens in: every such call ends
// on the server as CANCELED — a log line and a usage record marked cancelled — however quickly the
// client goes, over gRPC and Connect alike.
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const transports: Record<string, () => Transport> = {
  gRPC: () => createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [server.auth] }),
  Connect: () =>
    createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1", interceptors: [server.auth] }),
};

describe.each(Object.keys(transports))("cancelling StreamComplete over %s", (name) => {
  it("ends every cancelled call as CANCELED, with its usage recorded", async () => {
    const client = createClient(InferenceService, (transports[name] as () => Transport)());
    const ids: string[] = [];
    for (let round = 0; round < 12; round++) {
      const abort = new AbortController();
      const correlationId = randomUUID();
      ids.push(correlationId);
      let received = 0;
      await (async () => {
        for await (const message of client.streamComplete(
          {
            model: server.modelId,
            messages: [{ role: Role.USER, content: `Tell me a long story ${correlationId}` }],
            maxTokens: 400,
          },
          { signal: abort.signal, headers: { "x-correlation-id": correlationId } },
        )) {
          // Cancel after 1 to 4 tokens: sometimes mid-write, sometimes between writes.
          if (message.text && ++received === 1 + (round % 4)) abort.abort();
        }
      })().catch(() => {});
    }
    await vi.waitFor(() => {
      for (const id of ids) {
        const line = server.logs.find((entry) => entry.msg === "rpc" && entry.correlationId === id);
        expect(line, `log line of ${id}`).toBeDefined();
        expect(line?.code).toBe("canceled");
      }
    });
    await vi.waitFor(() => {
      const records = server.access.usageRecords().filter((record) => ids.includes(record.correlationId));
      expect(records).toHaveLength(ids.length);
      expect(new Set(records.map((record) => record.status))).toEqual(new Set(["cancelled"]));
      // Named after the target that served, never the router in front of it.
      expect(new Set(records.map((record) => record.modelServed))).toEqual(new Set([server.modelId]));
    });
    expect(
      server.logs.some((entry) => entry.level === 50 && ids.includes(entry.correlationId as string)),
    ).toBe(false);
  });
});

describe("cancelling a REST chat completion stream", () => {
  it("records every cancelled call as served by the local model", async () => {
    const ids: string[] = [];
    for (let round = 0; round < 6; round++) {
      const abort = new AbortController();
      const correlationId = randomUUID();
      ids.push(correlationId);
      await (async () => {
        const response = await fetch(`${server.baseUrl}/v1/chat/completions`, {
          method: "POST",
          signal: abort.signal,
          headers: {
            "content-type": "application/json",
            authorization: `Bearer ${server.adminKey}`,
            "x-correlation-id": correlationId,
          },
          body: JSON.stringify({
            model: server.modelId,
            messages: [{ role: "user", content: `Tell me a long story ${correlationId}` }],
            max_tokens: 400,
            stream: true,
          }),
        });
        let chunks = 0;
        for await (const _ of response.body ?? []) if (++chunks === 1 + (round % 3)) abort.abort();
      })().catch(() => {});
    }
    await vi.waitFor(() => {
      const records = server.access.usageRecords().filter((record) => ids.includes(record.correlationId));
      expect(records).toHaveLength(ids.length);
      expect(records.map((record) => record.status)).toEqual(ids.map(() => "cancelled"));
      expect(records.map((record) => [record.provider, record.modelServed])).toEqual(
        ids.map(() => ["llama-cpp", server.modelId]),
      );
    });
  });
});
