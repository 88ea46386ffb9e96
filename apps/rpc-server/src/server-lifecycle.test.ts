import { connect } from "node:net";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { FinishReason, InferenceService, Role, type StreamCompleteResponse } from "@noa/proto";
import { Health, HealthCheckResponse_ServingStatus } from "@noa/proto/grpc/health/v1";
import { createModelRegistry } from "@noa/providers";
import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { connectErrorOf as errorOf } from "./__fixtures__/connect-error-of.js";
import { createTestAccess, withKey } from "./__fixtures__/create-test-access.js";
import { createFakeProvider } from "./__fixtures__/fake-provider.js";
import { build, type RpcServer } from "./server.js";

const messages = [{ role: Role.USER, content: "hi" }];
let open: RpcServer[] = [];

async function start(http?: Parameters<typeof build>[0]["http"]) {
  const { provider, state } = createFakeProvider();
  const logs: string[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => logs.push(line) });
  const testAccess = await createTestAccess();
  const server = build({
    registry: createModelRegistry({ providers: [provider] }),
    logger,
    access: testAccess.access,
    http,
  });
  open.push(server);
  const { port } = await server.listen(0, "127.0.0.1");
  const auth = withKey(testAccess.adminKey);
  const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}`, interceptors: [auth] });
  return {
    server,
    state,
    logs,
    port,
    auth,
    key: testAccess.adminKey,
    inference: createClient(InferenceService, transport),
    transport,
  };
}

afterEach(async () => {
  await Promise.all(open.map((server) => server.close({ graceMs: 0 })));
  open = [];
});

async function drain(stream: AsyncIterable<StreamCompleteResponse>) {
  const received: StreamCompleteResponse[] = [];
  try {
    for await (const message of stream) received.push(message);
    return { received, error: undefined };
  } catch (error) {
    return { received, error: ConnectError.from(error) };
  }
}

describe("deadlines", () => {
  it("ends a call past its deadline with DEADLINE_EXCEEDED and aborts the generation", async () => {
    const { inference, state } = await start();
    // Long enough for the first tokens to arrive on a loaded machine (a CI run failed at 150 ms), short
    // enough that the endless model is still streaming when it passes.
    const { received, error } = await drain(
      inference.streamComplete({ model: "fake/endless", messages }, { timeoutMs: 1_000 }),
    );
    expect(received.length).toBeGreaterThan(0);
    expect(error?.code).toBe(Code.DeadlineExceeded);
    await vi.waitFor(() => expect(state.aborted).toBe(1));
  });
});

describe("client cancellation", () => {
  it.each([
    ["gRPC", (baseUrl: string, auth: Interceptor) => createGrpcTransport({ baseUrl, interceptors: [auth] })],
    [
      "Connect (HTTP/1.1)",
      (baseUrl: string, auth: Interceptor) =>
        createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [auth] }),
    ],
    [
      "gRPC-Web (HTTP/1.1)",
      (baseUrl: string, auth: Interceptor) =>
        createGrpcWebTransport({ baseUrl, httpVersion: "1.1", interceptors: [auth] }),
    ],
  ])("over %s aborts the generation", async (_name, transport) => {
    const { state, port, auth } = await start();
    const client = createClient(InferenceService, transport(`http://127.0.0.1:${port}`, auth));
    const abort = new AbortController();
    let received = 0;
    await (async () => {
      for await (const _ of client.streamComplete(
        { model: "fake/endless", messages },
        { signal: abort.signal },
      )) {
        if (++received === 3) abort.abort();
      }
    })().catch(() => {});
    await vi.waitFor(() => expect(state.aborted).toBe(1));
  });
});

describe("failures reach the client as codes, never as internal text", () => {
  it("maps a provider failure to UNAVAILABLE with a generic message and logs the cause", async () => {
    const { inference, logs } = await start();
    const error = await errorOf(inference.complete({ model: "fake/failing", messages }));
    expect(error.code).toBe(Code.Unavailable);
    expect(error.rawMessage).toMatch(
      /^model provider "fake" failed to answer; try again later \(correlation id: /,
    );
    expect(error.rawMessage).not.toContain("sk-secret");
    const correlationId = error.metadata.get("x-correlation-id");
    expect(
      logs.some(
        (line) => line.includes(`"correlationId":"${correlationId}"`) && line.includes("503 overloaded"),
      ),
    ).toBe(true);
  });

  it("maps a bug to INTERNAL without its message", async () => {
    const { inference } = await start();
    const { error } = await drain(inference.streamComplete({ model: "fake/buggy", messages }));
    expect(error?.code).toBe(Code.Internal);
    expect(error?.rawMessage).toMatch(/^internal error \(correlation id: /);
    expect(error?.rawMessage).not.toContain("secretInternalField");
  });

  it("ends a stream cut after its first tokens with an error, never a clean end", async () => {
    const { inference } = await start();
    const { received, error } = await drain(inference.streamComplete({ model: "fake/cut", messages }));
    expect(received.map((message) => message.text)).toEqual(["one ", "two "]);
    expect(error?.code).toBe(Code.Unavailable);
  });
});

describe("graceful shutdown", () => {
  it("lets an in-flight stream finish within the grace period and reports NOT_SERVING meanwhile", async () => {
    const { server, inference, transport } = await start();
    const health = createClient(Health, transport);
    const stream = inference.streamComplete({ model: "fake/short", messages });
    const iterator = stream[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.done).toBe(false);
    const watch = health.watch({ service: "" });
    const statuses: HealthCheckResponse_ServingStatus[] = [];
    const watched = (async () => {
      for await (const { status } of watch) statuses.push(status);
    })();
    await vi.waitFor(() => expect(statuses).toEqual([HealthCheckResponse_ServingStatus.SERVING]));
    const closed = server.close({ graceMs: 10_000 });
    await watched;
    expect(statuses).toEqual([
      HealthCheckResponse_ServingStatus.SERVING,
      HealthCheckResponse_ServingStatus.NOT_SERVING,
    ]);
    const rest = await drain({ [Symbol.asyncIterator]: () => iterator });
    expect(rest.error).toBeUndefined();
    expect(rest.received.at(-1)?.finishReason).toBe(FinishReason.STOP);
    await closed;
  });

  it("ends streams still running after the grace period with UNAVAILABLE, stops their generation and logs no error", async () => {
    const { server, inference, state, logs } = await start();
    const stream = inference.streamComplete({ model: "fake/endless", messages });
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next();
    const closed = server.close({ graceMs: 100 });
    const rest = await drain({ [Symbol.asyncIterator]: () => iterator });
    expect(rest.error?.code).toBe(Code.Unavailable);
    expect(rest.error?.rawMessage).toContain("shutting down");
    await closed;
    expect(state.aborted).toBe(1);
    // Documented, expected behaviour: an info line without a stack, not an error with one.
    const lines = logs.map((line) => JSON.parse(line) as { level: number; msg: string; err?: unknown });
    expect(lines.filter((line) => line.level >= 50)).toEqual([]);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 30, msg: "call ended by the server", code: "unavailable" }),
    );
    expect(logs.join("")).not.toContain("stack");
  });

  it("holds many calls at once without Node's listener-leak warning, and ends them all at shutdown", async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on("warning", onWarning);
    try {
      const { server, inference, state } = await start();
      // Each call's signal is linked to the server's shutdown signal while it runs.
      const streams = Array.from({ length: 30 }, () =>
        inference.streamComplete({ model: "fake/endless", messages })[Symbol.asyncIterator](),
      );
      for (const stream of streams) expect((await stream.next()).done).toBe(false);
      expect(warnings).toEqual([]);
      const closed = server.close({ graceMs: 0 });
      const ends = await Promise.all(
        streams.map((stream) => drain({ [Symbol.asyncIterator]: () => stream })),
      );
      expect(ends.map((end) => end.error?.code)).toEqual(streams.map(() => Code.Unavailable));
      await closed;
      expect(state.aborted).toBe(30);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("refuses new connections once closing", async () => {
    const { server, port } = await start();
    await server.close({ graceMs: 0 });
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
  });
});

describe("the OpenAI REST face", () => {
  const chat = (port: number, key: string, body: object) =>
    fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], ...body }),
    });

  it("answers a bug with 500 and a generic message, and a provider failure with 502", async () => {
    const { port, key, logs } = await start();
    const bug = await chat(port, key, { model: "fake/buggy" });
    expect(bug.status).toBe(500);
    const { error } = (await bug.json()) as { error: { message: string; type: string } };
    expect(error.message).toMatch(/^internal error \(correlation id: /);
    expect(error.type).toBe("server_error");
    expect(JSON.stringify(error)).not.toContain("secretInternalField");

    const failed = await chat(port, key, { model: "fake/failing", stream: true });
    expect(failed.status).toBe(502);
    expect(await failed.text()).not.toContain("sk-secret");
    expect(logs.some((line) => line.includes("503 overloaded"))).toBe(true);
  });

  it("ends a stream still running after the grace period with an error event, and logs no error for it", async () => {
    const { server, port, key, state, logs } = await start();
    const response = await chat(port, key, { model: "fake/endless", stream: true });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    const closed = server.close({ graceMs: 100 });
    let text = "";
    for (let part = await reader.read(); !part.done; part = await reader.read()) {
      text += new TextDecoder().decode(part.value);
    }
    await closed;
    expect(text).toMatch(/shutting down/);
    expect(text).not.toContain("[DONE]");
    expect(state.aborted).toBe(1);
    const lines = logs.map((line) => JSON.parse(line) as { level: number; msg: string });
    expect(lines.filter((line) => line.level >= 50)).toEqual([]);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 30, msg: "call ended by the server", code: "unavailable" }),
    );
  });

  it("answers a client that does not finish sending its request with 408 and closes the connection", async () => {
    const { port, key } = await start({ requestTimeoutMs: 300 });
    const socket = connect(port, "127.0.0.1");
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${key}\r\ncontent-length: 100\r\n\r\n{"model":`,
    );
    let answer = "";
    for await (const chunk of socket) answer += String(chunk);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toMatch(/did not arrive within 300 ms/);
  });

  it("answers a client too slow to send its headers with 408 naming a new correlation id, and logs it", async () => {
    const { port, logs } = await start({ requestTimeoutMs: 300 });
    const socket = connect(port, "127.0.0.1");
    socket.write("GET /v1/models HTTP/1.1\r\nhost: x\r\nx-slow: ");
    let answer = "";
    for await (const chunk of socket) answer += String(chunk);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    const correlationId = /\r\nx-correlation-id: ([\w-]+)\r\n/.exec(answer)?.[1];
    expect(correlationId).toBeDefined();
    expect(answer).toMatch(
      new RegExp(`NOA_REQUEST_TIMEOUT_MS\\); send it faster \\(correlation id: ${correlationId}\\)\n$`),
    );
    expect(logs.map((line) => JSON.parse(line))).toContainEqual(
      expect.objectContaining({ msg: "http", correlationId, route: "unparsed", status: 408 }),
    );
  });

  it("times only the receiving of a request: a gRPC stream answered for longer than the limit goes on", async () => {
    const { inference } = await start({ requestTimeoutMs: 300 });
    const abort = new AbortController();
    const started = performance.now();
    let lastAt = 0;
    let parts = 0;
    const ended = drain(
      (async function* () {
        for await (const part of inference.streamComplete(
          { model: "fake/endless", messages },
          { signal: abort.signal },
        )) {
          parts++;
          lastAt = performance.now() - started;
          if (lastAt > 1_000) abort.abort();
          yield part;
        }
      })(),
    );
    const { error } = await ended;
    // Still streaming well past the 300 ms limit, until the client itself stopped.
    expect(lastAt).toBeGreaterThan(1_000);
    expect(parts).toBeGreaterThan(10);
    expect(error?.code).toBe(Code.Canceled);
  });

  it("ends a stream still running after the grace period with an error event and stops its generation", async () => {
    const { server, port, key, state } = await start();
    const response = await chat(port, key, { model: "fake/endless", stream: true });
    const reader = response.body?.pipeThrough(new TextDecoderStream()).getReader();
    const first = await reader?.read();
    expect(first?.value).toMatch(/^data: /);
    const closed = server.close({ graceMs: 100 });
    let body = first?.value ?? "";
    for (let part = await reader?.read(); part && !part.done; part = await reader?.read()) body += part.value;
    await closed;
    expect(body).not.toContain("[DONE]");
    const last = JSON.parse(body.trim().split("\n\n").at(-1)?.slice("data: ".length) ?? "{}");
    expect(last.error).toMatchObject({
      code: "unavailable",
      message: expect.stringMatching(/shutting down/),
    });
    expect(state.aborted).toBe(1);
  });
});
