import http2 from "node:http2";
import net from "node:net";
import { gzipSync } from "node:zlib";
import { Code, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { InferenceService, ModelService, Role } from "@noa/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectErrorOf as errorOf } from "./__fixtures__/connect-error-of.js";
import { type FakeServer, startFakeServer } from "./__fixtures__/start-fake-server.js";

const complete = "/noa.inference.v1.InferenceService/Complete";
const readMaxBytes = 2048;

/** What no answer may carry: stack frames, module paths, runtime error names. */
const internal = /\n\s+at |node_modules|\.ts:\d+|TypeError|ReferenceError/;

/** One request written as raw bytes over HTTP/1.x; resolves with all the server sent before closing. */
function rawHttp1(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.end(text));
    let received = "";
    socket.on("data", (chunk) => {
      received += chunk.toString("latin1");
    });
    socket.on("close", () => resolve(received));
    socket.on("error", reject);
  });
}

/** One gRPC call over HTTP/2 with the given headers and body bytes: its status, headers and trailers. */
function rawGrpc(baseUrl: string, headers: http2.OutgoingHttpHeaders, body: Uint8Array) {
  return new Promise<{
    status: number;
    headers: http2.IncomingHttpHeaders;
    trailers: http2.IncomingHttpHeaders;
  }>((resolve, reject) => {
    const session = http2.connect(baseUrl);
    session.on("error", reject);
    const stream = session.request({
      ":method": "POST",
      ":path": complete,
      "content-type": "application/grpc",
      te: "trailers",
      ...headers,
    });
    let received: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    stream.on("response", (value) => {
      received = value;
    });
    stream.on("trailers", (value) => {
      trailers = value;
    });
    stream.on("data", () => {});
    stream.on("end", () => {
      session.close();
      resolve({ status: Number(received[":status"]), headers: received, trailers });
    });
    stream.on("error", reject);
    stream.end(body);
  });
}

/** A gRPC message frame: uncompressed, 4-byte big-endian length, then the bytes. */
function frame(payload: Uint8Array, flags = 0): Uint8Array {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt8(flags, 0);
  prefix.writeUInt32BE(payload.length, 1);
  return Buffer.concat([prefix, payload]);
}

describe("refusals Connect makes before NOA's handlers run", () => {
  let server: FakeServer;
  beforeAll(async () => {
    server = await startFakeServer({ readMaxBytes });
  });
  afterAll(async () => {
    await server?.close();
  });

  /** A Connect unary request over HTTP/1.1 with its own correlation id; the answer's status, header and body. */
  async function connectCall(
    id: string,
    init: { method?: string; headers?: Record<string, string>; body?: string },
  ) {
    const response = await fetch(`${server.baseUrl}${complete}`, {
      method: init.method ?? "POST",
      headers: { "content-type": "application/json", "x-correlation-id": id, ...init.headers },
      body: init.body,
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      text,
      // Connect's own 405 and 415 had no body at all.
      body: (text ? JSON.parse(text) : { code: "", message: "" }) as { code: string; message: string },
    };
  }

  it("say the correlation id in a Connect error, as NOA's own errors do, and name it in x-correlation-id", async () => {
    const malformed = await connectCall("refused-json", { body: '{"model": ' });
    const badTimeout = await connectCall("refused-timeout", {
      headers: { "connect-timeout-ms": "soon" },
      body: "{}",
    });
    const tooLarge = await connectCall("refused-size", {
      body: JSON.stringify({ model: "fake/short", messages: [{ content: "x".repeat(readMaxBytes) }] }),
    });
    const wrongType = await connectCall("refused-type", {
      headers: { "content-type": "text/plain" },
      body: "{}",
    });
    const wrongMethod = await connectCall("refused-method", { method: "GET" });

    expect(
      [malformed, badTimeout, tooLarge, wrongType, wrongMethod].map(({ status, body }) => [
        status,
        body.code,
      ]),
    ).toEqual([
      [400, "invalid_argument"],
      [400, "invalid_argument"],
      [429, "resource_exhausted"],
      [415, "unimplemented"],
      [405, "unimplemented"],
    ]);
    for (const [id, answer] of [
      ["refused-json", malformed],
      ["refused-timeout", badTimeout],
      ["refused-size", tooLarge],
      ["refused-type", wrongType],
      ["refused-method", wrongMethod],
    ] as const) {
      expect(answer.body.message, id).toMatch(new RegExp(`\\(correlation id: ${id}\\)$`));
      expect(answer.headers.get("x-correlation-id"), id).toBe(id);
      expect(answer.text, id).not.toMatch(internal);
    }
    // Connect's own words are kept; a refusal that had none says what the procedure takes.
    expect(malformed.body.message).toMatch(
      /^cannot decode message noa\.inference\.v1\.CompleteRequest from JSON/,
    );
    expect(badTimeout.body.message).toMatch(/invalid connect timeout value: soon/);
    expect(wrongType.body.message).toMatch(
      /^noa\.inference\.v1\.InferenceService\/Complete does not take content type "text\/plain"; it takes .*application\/grpc.*application\/json/,
    );
    expect(wrongMethod.body.message).toMatch(/is called with POST, not GET/);
    expect(wrongMethod.headers.get("allow")).toBe("POST");
  });

  it("reach real Connect, gRPC and gRPC-Web clients with the correlation id in the error's message", async () => {
    const transports: Array<[string, Transport]> = [
      ["connect", createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1" })],
      ["grpc", createGrpcTransport({ baseUrl: server.baseUrl })],
      ["grpc-web", createGrpcWebTransport({ baseUrl: server.baseUrl, httpVersion: "1.1" })],
    ];
    for (const [protocol, transport] of transports) {
      const id = `too-large-${protocol}`;
      const error = await errorOf(
        createClient(InferenceService, transport).complete(
          { model: "fake/short", messages: [{ role: Role.USER, content: "x".repeat(readMaxBytes) }] },
          { headers: { "x-correlation-id": id } },
        ),
      );
      expect([protocol, error.code]).toEqual([protocol, Code.ResourceExhausted]);
      expect(error.rawMessage).toMatch(new RegExp(`larger than .*\\(correlation id: ${id}\\)$`));
    }
  });

  it("say it in gRPC's status, in trailers or, with no message to send, in the headers", async () => {
    const badTimeout = await rawGrpc(
      server.baseUrl,
      { "grpc-timeout": "soon", "x-correlation-id": "grpc-timeout" },
      frame(new Uint8Array()),
    );
    // A frame that promises more bytes than it brings.
    const truncated = await rawGrpc(
      server.baseUrl,
      { "x-correlation-id": "grpc-truncated" },
      frame(new Uint8Array(10)).subarray(0, 8),
    );
    const wrongCodec = await rawGrpc(
      server.baseUrl,
      { "content-type": "application/grpc+xml", "x-correlation-id": "grpc-codec" },
      frame(new Uint8Array()),
    );
    const statusOf = ({ headers, trailers }: Awaited<ReturnType<typeof rawGrpc>>) => ({
      code: Number(trailers["grpc-status"] ?? headers["grpc-status"]),
      message: decodeURIComponent(String(trailers["grpc-message"] ?? headers["grpc-message"])),
      correlationId: headers["x-correlation-id"],
    });
    expect(statusOf(badTimeout)).toEqual({
      code: Code.InvalidArgument,
      message: expect.stringMatching(/timeout.*\(correlation id: grpc-timeout\)$/),
      correlationId: "grpc-timeout",
    });
    expect(statusOf(truncated)).toEqual({
      code: Code.InvalidArgument,
      message: expect.stringMatching(/\(correlation id: grpc-truncated\)$/),
      correlationId: "grpc-truncated",
    });
    expect(wrongCodec.status).toBe(415);
    expect(statusOf(wrongCodec)).toEqual({
      code: Code.Unimplemented,
      message: expect.stringMatching(
        /does not take content type "application\/grpc\+xml".*\(correlation id: grpc-codec\)$/,
      ),
      correlationId: "grpc-codec",
    });
  });

  it("explain a bidirectional stream called over HTTP/1.1 (505)", async () => {
    const response = await fetch(
      `${server.baseUrl}/grpc.reflection.v1.ServerReflection/ServerReflectionInfo`,
      {
        method: "POST",
        headers: { "content-type": "application/connect+json", "x-correlation-id": "bidi-over-h1" },
        body: "",
      },
    );
    expect(response.status).toBe(505);
    const text = await response.text();
    expect(text && JSON.parse(text)).toEqual({
      code: "unimplemented",
      message:
        "grpc.reflection.v1.ServerReflection/ServerReflectionInfo is a bidirectional stream, which needs HTTP/2; this request came over HTTP/1.1 (correlation id: bidi-over-h1)",
    });
  });

  it("answer an HTTP/1.0 request without Host, which Connect's adapter threw on outside any handler", async () => {
    const answer = await rawHttp1(
      server.port,
      `POST ${complete} HTTP/1.0\r\ncontent-type: application/json\r\nx-correlation-id: no-host\r\ncontent-length: 2\r\n\r\n{}`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toMatch(/\r\nx-correlation-id: no-host\r\n/);
    expect(answer).toContain('"message":"the request has no Host header');
    expect(answer).toContain("(correlation id: no-host)");
    expect((await fetch(`${server.baseUrl}/health`)).status).toBe(200);
  });

  it("are logged and counted like every other call, with the code the client got", async () => {
    const before = await server.scrape();
    await connectCall("logged-refusal", { body: "[1, 2" });
    const line = server.logs.find((entry) => entry.msg === "rpc" && entry.correlationId === "logged-refusal");
    expect(line).toMatchObject({
      procedure: "noa.inference.v1.InferenceService/Complete",
      protocol: "connect",
      code: "invalid_argument",
    });
    expect(typeof line?.ms).toBe("number");
    const sample =
      /^noa_rpc_requests_total\{service="noa\.inference\.v1\.InferenceService",method="Complete",protocol="connect",code="invalid_argument"\} (\d+)$/m;
    const count = (text: string) => Number(sample.exec(text)?.[1] ?? 0);
    expect(count(await server.scrape()) - count(before)).toBe(1);
  });

  it("refuse a compressed body cut short as the client's INVALID_ARGUMENT, with no error logged", async () => {
    const errorsBefore = server.logs.filter((entry) => Number(entry.level) >= 50).length;
    const gzipped = gzipSync(JSON.stringify({ model: "fake/short", messages: [{ content: "hi" }] }));
    const cut = gzipped.subarray(0, gzipped.length - 4);
    const connectCut = await fetch(`${server.baseUrl}${complete}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "content-encoding": "gzip",
        "x-correlation-id": "cut-gzip",
      },
      body: cut,
    });
    const grpc = await rawGrpc(
      server.baseUrl,
      { "grpc-encoding": "gzip", "x-correlation-id": "cut-gzip-grpc" },
      frame(cut, 1),
    );
    // A stream reads its message after authentication, inside NOA's interceptors.
    const stream = await fetch(`${server.baseUrl}/noa.inference.v1.InferenceService/StreamComplete`, {
      method: "POST",
      headers: {
        "content-type": "application/connect+json",
        "connect-content-encoding": "gzip",
        authorization: `Bearer ${server.adminKey}`,
        "x-correlation-id": "cut-gzip-stream",
      },
      body: frame(cut, 1),
    });
    const streamEnd = Buffer.from(await stream.arrayBuffer())
      .subarray(5)
      .toString();

    expect([connectCut.status, ((await connectCut.json()) as { code: string }).code]).toEqual([
      400,
      "invalid_argument",
    ]);
    expect(grpc.trailers["grpc-status"]).toBe(String(Code.InvalidArgument));
    expect(decodeURIComponent(String(grpc.trailers["grpc-message"]))).toMatch(
      /not valid gzip data \(correlation id: cut-gzip-grpc\)$/,
    );
    expect(JSON.parse(streamEnd)).toMatchObject({ error: { code: "invalid_argument" } });
    expect(server.logs.filter((entry) => Number(entry.level) >= 50).length).toBe(errorsBefore);
  });

  it("take a client that leaves while its request is read as a cancel: no error logged, nothing answered", async () => {
    const errorsBefore = server.logs.filter((entry) => Number(entry.level) >= 50).length;
    const { port } = new URL(server.baseUrl);
    const socket = net.connect(Number(port), "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.write(
      `POST ${complete} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n` +
        'x-correlation-id: left-mid-body\r\ncontent-length: 1000\r\n\r\n{"model":',
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.destroy();
    await expect
      .poll(() => server.logs.find((entry) => entry.msg === "rpc" && entry.correlationId === "left-mid-body"))
      .toMatchObject({ protocol: "connect", code: "canceled" });
    expect(server.logs.filter((entry) => Number(entry.level) >= 50).length).toBe(errorsBefore);
  });

  // Node's HTTP/2 client (under grpc-js and Connect for Node) cancels a stream whose request it has not
  // ended yet by ending it, then resetting it (RST_STREAM CANCEL) in its next write: the server sees a
  // request that ends cut short, and the reset only after.
  it("take a gRPC client that cancels mid-message as a cancel, and one that ends mid-message as INVALID_ARGUMENT", async () => {
    const errorsBefore = server.logs.filter((entry) => Number(entry.level) >= 50).length;
    const before = await server.scrape();
    const session = http2.connect(server.baseUrl);
    session.on("error", () => {});
    /** A gRPC call that sends 8 of the 15 bytes its envelope promises, then `leave`s. */
    const cutShort = async (id: string, leave: (stream: http2.ClientHttp2Stream) => void) => {
      const stream = session.request({
        ":method": "POST",
        ":path": complete,
        "content-type": "application/grpc",
        te: "trailers",
        "x-correlation-id": id,
      });
      const answer = { headers: {} as http2.IncomingHttpHeaders, trailers: {} as http2.IncomingHttpHeaders };
      stream.on("response", (headers) => Object.assign(answer.headers, headers));
      stream.on("trailers", (trailers) => Object.assign(answer.trailers, trailers));
      stream.on("error", () => {});
      stream.resume();
      await new Promise((resolve) => stream.write(frame(new Uint8Array(10)).subarray(0, 8), resolve));
      leave(stream);
      await new Promise((resolve) => stream.once("close", resolve));
      return answer;
    };
    const ids = ["cancel-mid-message-1", "cancel-mid-message-2", "cancel-mid-message-3"];
    for (const id of ids) await cutShort(id, (stream) => stream.close(http2.constants.NGHTTP2_CANCEL));
    const ended = await cutShort("end-mid-message", (stream) => stream.end());
    session.close();

    const lineOf = (id: string) =>
      server.logs.find((entry) => entry.msg === "rpc" && entry.correlationId === id);
    for (const id of ids) {
      await expect
        .poll(() => lineOf(id), { message: id })
        .toMatchObject({ protocol: "grpc", code: "canceled" });
    }
    expect(ended.headers["x-correlation-id"]).toBe("end-mid-message");
    expect(Number(ended.trailers["grpc-status"])).toBe(Code.InvalidArgument);
    expect(decodeURIComponent(String(ended.trailers["grpc-message"]))).toMatch(
      /\(correlation id: end-mid-message\)$/,
    );
    await expect
      .poll(() => lineOf("end-mid-message"))
      .toMatchObject({ protocol: "grpc", code: "invalid_argument" });
    const count = (text: string, code: string) =>
      Number(
        new RegExp(
          `^noa_rpc_requests_total\\{service="noa\\.inference\\.v1\\.InferenceService",method="Complete",protocol="grpc",code="${code}"\\} (\\d+)$`,
          "m",
        ).exec(text)?.[1] ?? 0,
      );
    const after = await server.scrape();
    expect(count(after, "canceled") - count(before, "canceled")).toBe(ids.length);
    expect(count(after, "invalid_argument") - count(before, "invalid_argument")).toBe(1);
    expect(server.logs.filter((entry) => Number(entry.level) >= 50).length).toBe(errorsBefore);
  });
});

describe("x-ratelimit-* headers on RPC answers", () => {
  const burst = 5;
  let server: FakeServer;
  beforeAll(async () => {
    server = await startFakeServer({ requestBurst: burst });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("say where the key's bucket stands on every answer, an error's too, and that it is empty on a refusal", async () => {
    const connect = createClient(
      ModelService,
      createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1", interceptors: [server.auth] }),
    );
    const grpc = createClient(
      ModelService,
      createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [server.auth] }),
    );
    const remaining: Array<string | null> = [];
    const onHeader = (header: Headers) => remaining.push(header.get("x-ratelimit-remaining-requests"));
    await connect.listModels({}, { onHeader });
    await grpc.listModels({}, { onHeader });
    const connectNotFound = await errorOf(connect.getModel({ id: "fake/no-such-model" }));
    const grpcNotFound = await errorOf(grpc.getModel({ id: "fake/no-such-model" }));
    for (const error of [connectNotFound, grpcNotFound]) {
      expect(error.code).toBe(Code.NotFound);
      remaining.push(error.metadata.get("x-ratelimit-remaining-requests"));
    }
    expect(remaining).toEqual(["4", "3", "2", "1"]);

    await grpc.listModels({}, { onHeader });
    for (const client of [connect, grpc]) {
      const refused = await errorOf(client.listModels({}));
      expect(refused.code).toBe(Code.ResourceExhausted);
      expect(refused.metadata.get("x-ratelimit-limit-requests")).toBe(String(burst));
      expect(refused.metadata.get("x-ratelimit-remaining-requests")).toBe("0");
      expect(refused.metadata.get("x-ratelimit-reset-requests")).toBe(
        `${Math.ceil(Number(refused.metadata.get("retry-after-ms")) / 1000)}s`,
      );
    }
  });
});
