import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import {
  Capability,
  FinishReason,
  InferenceService,
  ModelService,
  Role,
  type StreamCompleteResponse,
} from "@noa/proto";
import { Health, HealthCheckResponse_ServingStatus } from "@noa/proto/grpc/health/v1";
import { ServerReflection, type ServerReflectionRequest } from "@noa/proto/grpc/reflection/v1";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startTestServer, type TestServer } from "./__fixtures__/start-test-server.js";

const protoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../proto");
const hello = [{ role: Role.USER, content: "Hello, who are you?" }];

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const transports: Record<string, () => Transport> = {
  "Connect (HTTP/1.1)": () =>
    createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1", interceptors: [server.auth] }),
  "Connect (h2c)": () =>
    createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "2", interceptors: [server.auth] }),
  gRPC: () => createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [server.auth] }),
  "gRPC-Web": () =>
    createGrpcWebTransport({ baseUrl: server.baseUrl, httpVersion: "1.1", interceptors: [server.auth] }),
};

async function collect(stream: AsyncIterable<StreamCompleteResponse>) {
  const messages: StreamCompleteResponse[] = [];
  for await (const message of stream) messages.push(message);
  return messages;
}

describe.each(Object.entries(transports))("StreamComplete over %s", (_name, makeTransport) => {
  it("streams text then a last message with usage, finish reason, provider and model", async () => {
    const client = createClient(InferenceService, makeTransport());
    const messages = await collect(
      client.streamComplete({ model: server.modelId, messages: hello, maxTokens: 12, temperature: 0 }),
    );
    const last = messages.at(-1);
    const deltas = messages.slice(0, -1);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.every((message) => message.text.length > 0 && message.usage === undefined)).toBe(true);
    expect(last?.finishReason).toBe(FinishReason.LENGTH);
    expect(last?.usage?.completionTokens).toBe(12);
    expect(last?.usage?.promptTokens).toBeGreaterThan(0);
    expect(last?.usage?.totalTokens).toBe((last?.usage?.promptTokens ?? 0) + 12);
    expect(last?.provider).toBe("llama-cpp");
    expect(last?.model).toBe(server.modelId);
    expect(new Set(messages.map((message) => message.id)).size).toBe(1);
  });
});

describe("Complete", () => {
  it("answers unary calls with the same text the stream produces", async () => {
    const client = createClient(InferenceService, transports.gRPC?.() as Transport);
    const request = { model: server.modelId, messages: hello, maxTokens: 10, temperature: 0 };
    const unary = await client.complete(request);
    const streamed = await collect(client.streamComplete(request));
    expect(unary.text).toBe(streamed.map((message) => message.text).join(""));
    expect(unary.finishReason).toBe(FinishReason.LENGTH);
    expect(unary.usage?.completionTokens).toBe(10);
    expect(unary.model).toBe(server.modelId);
  });

  it("returns the caller's correlation id in the response header", async () => {
    const client = createClient(InferenceService, transports["Connect (HTTP/1.1)"]?.() as Transport);
    let header: Headers | undefined;
    const response = await client.complete(
      { model: server.modelId, messages: hello, maxTokens: 2 },
      { headers: { "x-correlation-id": "test-correlation-1" }, onHeader: (h) => (header = h) },
    );
    expect(header?.get("x-correlation-id")).toBe("test-correlation-1");
    expect(response.id).toBe("test-correlation-1");
    expect(
      server.logs.some((line) => line.correlationId === "test-correlation-1" && line.msg === "rpc"),
    ).toBe(true);
  });
});

describe("a client that shares none of our code (@grpc/grpc-js + @grpc/proto-loader on proto/)", () => {
  type GrpcClient = grpc.Client & {
    Complete(
      request: object,
      callback: (error: grpc.ServiceError | null, value: Record<string, unknown>) => void,
    ): void;
    StreamComplete(request: object): grpc.ClientReadableStream<Record<string, unknown>>;
  };
  let client: GrpcClient;
  beforeAll(() => {
    const definition = protoLoader.loadSync("noa/inference/v1/inference.proto", {
      includeDirs: [protoRoot],
      keepCase: true,
      enums: String,
      defaults: true,
    });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      noa: { inference: { v1: { InferenceService: grpc.ServiceClientConstructor } } };
    };
    client = new loaded.noa.inference.v1.InferenceService(
      `127.0.0.1:${server.port}`,
      grpc.credentials.createInsecure(),
      {
        interceptors: [
          (options: grpc.InterceptorOptions, nextCall: grpc.NextCall) =>
            new grpc.InterceptingCall(nextCall(options), {
              start(metadata, listener, next) {
                metadata.set("authorization", `Bearer ${server.adminKey}`);
                next(metadata, listener);
              },
            }),
        ],
      },
    ) as unknown as GrpcClient;
  });
  afterAll(() => client?.close());
  const request = {
    model: "llama-cpp/llama-2-tiny-random",
    messages: [{ role: "ROLE_USER", content: "Hi" }],
    max_tokens: 8,
  };

  it("calls Complete", async () => {
    const response = await new Promise<Record<string, unknown>>((resolve, reject) =>
      client.Complete(request, (error, value) => (error ? reject(error) : resolve(value))),
    );
    expect(response.finish_reason).toBe("FINISH_REASON_LENGTH");
    expect((response.usage as { completion_tokens: number }).completion_tokens).toBe(8);
    expect(typeof response.text).toBe("string");
  });

  it("streams StreamComplete", async () => {
    const call = client.StreamComplete(request);
    const messages: Array<Record<string, unknown>> = [];
    call.on("data", (message) => messages.push(message));
    await new Promise((resolve, reject) => {
      call.on("end", resolve);
      call.on("error", reject);
    });
    expect(messages.length).toBeGreaterThan(2);
    expect(messages.at(-1)?.finish_reason).toBe("FINISH_REASON_LENGTH");
    expect(messages.at(-1)?.provider).toBe("llama-cpp");
  });

  it("gets INVALID_ARGUMENT for a bad request", async () => {
    const error = await new Promise<grpc.ServiceError>((resolve) =>
      client.Complete({ ...request, max_tokens: -1 }, (e) => e && resolve(e)),
    );
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error.details).toContain("max_tokens");
  });

  it("reads an error's message as written, punctuation and all (grpc-js decodes grpc-message with decodeURI)", async () => {
    const error = await new Promise<grpc.ServiceError>((resolve) =>
      client.Complete({ ...request, model: "nope/x-1, é" }, (e) => e && resolve(e)),
    );
    expect(error.code).toBe(grpc.status.NOT_FOUND);
    expect(error.details).toMatch(
      /^model "nope\/x-1, é" does not exist; .* \(correlation id: [0-9a-f-]{36}\)$/,
    );
  });
});

describe("Connect JSON from curl", () => {
  it("POSTs a JSON request and gets a JSON answer", async () => {
    const { stdout } = await promisify(execFile)("curl", [
      "-sS",
      "-H",
      "content-type: application/json",
      "-H",
      `authorization: Bearer ${server.adminKey}`,
      "-d",
      JSON.stringify({
        model: server.modelId,
        messages: [{ role: "ROLE_USER", content: "Hi" }],
        maxTokens: 5,
      }),
      `${server.baseUrl}/noa.inference.v1.InferenceService/Complete`,
    ]);
    const body = JSON.parse(stdout);
    expect(body.finishReason).toBe("FINISH_REASON_LENGTH");
    expect(body.usage.completionTokens).toBe(5);
    expect(body.model).toBe(server.modelId);
  });

  it("gets a Connect error body naming the field", async () => {
    const { stdout } = await promisify(execFile)("curl", [
      "-sS",
      "-H",
      "content-type: application/json",
      "-H",
      `x-api-key: ${server.adminKey}`,
      "-d",
      JSON.stringify({ model: server.modelId, messages: [] }),
      `${server.baseUrl}/noa.inference.v1.InferenceService/Complete`,
    ]);
    const body = JSON.parse(stdout);
    expect(body.code).toBe("invalid_argument");
    expect(body.message).toMatch(/^messages must hold at least one message \(correlation id: [\w-]+\)$/);
  });

  it("returns the correlation id also when Connect refuses a body it cannot decode, before any handler runs", async () => {
    const response = await fetch(`${server.baseUrl}/noa.inference.v1.InferenceService/Complete`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-api-key": server.adminKey,
        "x-correlation-id": "undecodable-1",
      },
      body: "{not json",
    });
    expect(response.status).toBe(400);
    expect(response.headers.get("x-correlation-id")).toBe("undecodable-1");
  });
});

describe("a path no surface serves", () => {
  it("answers 404 in OpenAI's error shape with the correlation id, in the header and the message", async () => {
    const response = await fetch(`${server.baseUrl}/nope?token=secret`, {
      headers: { "x-correlation-id": "lost-1" },
    });
    expect(response.status).toBe(404);
    expect(response.headers.get("x-correlation-id")).toBe("lost-1");
    expect(await response.json()).toEqual({
      error: {
        message: "no route for GET /nope (correlation id: lost-1)",
        type: "not_found_error",
        param: null,
        code: "unknown_url",
      },
    });
  });
});

describe("a procedure no service serves", () => {
  const reflection = "server reflection \\(grpc\\.reflection\\.v1\\.ServerReflection\\)";
  let client: grpc.Client;
  beforeAll(() => {
    client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  });
  afterAll(() => client?.close());
  const bytes = (value: Buffer) => value;

  it("is UNIMPLEMENTED for a gRPC client, naming the method, reflection and the correlation id", async () => {
    const metadata = new grpc.Metadata();
    metadata.set("x-correlation-id", "no-such-method-1");
    let header: grpc.Metadata | undefined;
    const call = client.makeUnaryRequest(
      "/noa.inference.v1.InferenceService/Nope",
      bytes,
      bytes,
      Buffer.alloc(0),
      metadata,
      () => {},
    );
    call.on("metadata", (received: grpc.Metadata) => (header = received));
    const status = await new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
    expect(status.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(status.details).toMatch(
      new RegExp(
        `^unknown method Nope for service noa\\.inference\\.v1\\.InferenceService; ${reflection} lists its methods \\(correlation id: no-such-method-1\\)$`,
      ),
    );
    // Trailers-only: the correlation id comes with the status.
    expect((header ?? status.metadata).get("x-correlation-id")).toEqual(["no-such-method-1"]);
  });

  it("is UNIMPLEMENTED for grpc.reflection.v1alpha, so that reflection clients fall back to v1", async () => {
    const call = client.makeBidiStreamRequest(
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      bytes,
      bytes,
    );
    call.on("data", () => {});
    call.on("error", () => {});
    call.write(Buffer.alloc(0));
    call.end();
    const status = await new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
    expect(status.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(status.details).toMatch(
      new RegExp(
        `^unknown service grpc\\.reflection\\.v1alpha\\.ServerReflection \\(method ServerReflectionInfo\\); ${reflection} lists the services served here \\(correlation id: [\\w-]+\\)$`,
      ),
    );
  });

  it("is UNIMPLEMENTED in gRPC-Web's headers, and in Connect's error body with HTTP 404", async () => {
    const grpcWeb = await fetch(`${server.baseUrl}/nope.v1.Nothing/Call`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto", "x-correlation-id": "web-1" },
      body: new Uint8Array(5),
    });
    expect(grpcWeb.status).toBe(200);
    expect(grpcWeb.headers.get("grpc-status")).toBe("12");
    expect(decodeURIComponent(grpcWeb.headers.get("grpc-message") ?? "")).toMatch(
      /^unknown service nope\.v1\.Nothing \(method Call\); .* \(correlation id: web-1\)$/,
    );
    expect(grpcWeb.headers.get("x-correlation-id")).toBe("web-1");

    const connect = await fetch(`${server.baseUrl}/noa.inference.v1.InferenceService/Nope`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-correlation-id": "connect-1" },
      body: "{}",
    });
    expect(connect.status).toBe(404);
    expect(connect.headers.get("x-correlation-id")).toBe("connect-1");
    expect(await connect.json()).toEqual({
      code: "unimplemented",
      message: expect.stringMatching(
        /^unknown method Nope for service noa\.inference\.v1\.InferenceService; .* \(correlation id: connect-1\)$/,
      ),
    });
  });

  it("is UNIMPLEMENTED for a Connect client, unary and streaming", async () => {
    // InferenceService's methods under a service name the server does not have.
    const parent = { ...InferenceService, typeName: "noa.inference.v1.Nothing" };
    const complete = { ...InferenceService.method.complete, parent };
    const streamComplete = { ...InferenceService.method.streamComplete, parent };
    const transport = createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1" });
    const request = { model: server.modelId, messages: hello };
    const failures = await Promise.all(
      [
        transport.unary(complete, undefined, undefined, undefined, request),
        transport
          .stream(
            streamComplete,
            undefined,
            undefined,
            undefined,
            (async function* () {
              yield request;
            })(),
          )
          .then(async (response) => {
            for await (const _ of response.message) {
              // none
            }
          }),
      ].map((call) =>
        call.then(
          () => undefined,
          (e: unknown) => ConnectError.from(e),
        ),
      ),
    );
    for (const [failure, method] of [
      [failures[0], "Complete"],
      [failures[1], "StreamComplete"],
    ] as const) {
      expect(failure?.code).toBe(Code.Unimplemented);
      expect(failure?.rawMessage).toMatch(
        new RegExp(
          `^unknown service noa\\.inference\\.v1\\.Nothing \\(method ${method}\\); .* \\(correlation id: [\\w-]+\\)$`,
        ),
      );
    }
  });
});

describe("ModelService", () => {
  it("lists the local model with its capabilities and context length", async () => {
    const client = createClient(ModelService, transports.gRPC?.() as Transport);
    const { models } = await client.listModels({});
    const model = models.find((candidate) => candidate.id === server.modelId);
    expect(model?.provider).toBe("llama-cpp");
    expect(model?.capabilities).toEqual(
      expect.arrayContaining([Capability.CHAT, Capability.STREAMING, Capability.COMPLETION]),
    );
    expect(model?.contextLength).toBeGreaterThan(0);
    const { model: one } = await client.getModel({ id: server.modelId });
    expect(one?.id).toBe(server.modelId);
  });

  it("says NOT_FOUND for an unknown model", async () => {
    const client = createClient(ModelService, transports.gRPC?.() as Transport);
    const error = await client.getModel({ id: "llama-cpp/nope" }).catch((e: unknown) => ConnectError.from(e));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.NotFound);
  });
});

describe("health and reflection", () => {
  it("answers grpc.health.v1 Check with SERVING, and GET /health", async () => {
    const client = createClient(Health, transports.gRPC?.() as Transport);
    expect((await client.check({ service: "" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect((await client.check({ service: "noa.inference.v1.InferenceService" })).status).toBe(
      HealthCheckResponse_ServingStatus.SERVING,
    );
    const unknown = await client
      .check({ service: "nope.Service" })
      .catch((e: unknown) => ConnectError.from(e));
    expect((unknown as ConnectError).code).toBe(Code.NotFound);
    const response = await fetch(`${server.baseUrl}/health`);
    expect(response.status).toBe(200);
    const ready = await fetch(`${server.baseUrl}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "ready" });
  });

  it("lists the services and returns their file descriptors over grpc.reflection.v1", async () => {
    const client = createClient(ServerReflection, transports.gRPC?.() as Transport);
    async function* requests(): AsyncGenerator<Partial<ServerReflectionRequest>> {
      yield { messageRequest: { case: "listServices", value: "" } };
      yield { messageRequest: { case: "fileContainingSymbol", value: "noa.inference.v1.InferenceService" } };
      yield { messageRequest: { case: "fileContainingSymbol", value: "noa.inference.v1.ModelService" } };
      yield { messageRequest: { case: "fileByFilename", value: "nope.proto" } };
    }
    const responses = [];
    for await (const response of client.serverReflectionInfo(
      requests() as AsyncIterable<ServerReflectionRequest>,
    )) {
      responses.push(response);
    }
    const [list, inference, model, missing] = responses.map((response) => response.messageResponse);
    expect(
      list?.case === "listServicesResponse" && list.value.service.map((service) => service.name),
    ).toEqual(expect.arrayContaining(["noa.inference.v1.InferenceService", "noa.inference.v1.ModelService"]));
    const describeFile = (bytes: Uint8Array | undefined) =>
      fromBinary(FileDescriptorProtoSchema, bytes ?? new Uint8Array());
    const inferenceFile = describeFile(
      inference?.case === "fileDescriptorResponse" ? inference.value.fileDescriptorProto[0] : undefined,
    );
    expect(inferenceFile.name).toBe("noa/inference/v1/inference.proto");
    expect(inferenceFile.service[0]?.method.map((method) => method.name)).toEqual([
      "Complete",
      "StreamComplete",
    ]);
    const modelFile = describeFile(
      model?.case === "fileDescriptorResponse" ? model.value.fileDescriptorProto[0] : undefined,
    );
    expect(modelFile.service[0]?.name).toBe("ModelService");
    expect(missing?.case === "errorResponse" && missing.value.errorCode).toBe(Code.NotFound);
  });
});

describe("cancellation and concurrency on the real model", () => {
  it("stops generation when the client cancels a stream after a few tokens", async () => {
    const client = createClient(InferenceService, transports.gRPC?.() as Transport);
    const abort = new AbortController();
    const maxTokens = 1_000;
    let received = 0;
    const stream = client.streamComplete(
      { model: server.modelId, messages: hello, maxTokens, temperature: 0 },
      { signal: abort.signal },
    );
    const outcome = await (async () => {
      for await (const _ of stream) {
        if (++received === 3) abort.abort();
      }
    })().catch((error: unknown) => ConnectError.from(error));
    // What the client itself reports for its own abort races the server's reset (canceled or unavailable);
    // what matters is that the call did not end as a finished answer.
    expect(outcome).toBeInstanceOf(Error);
    await vi.waitFor(() => expect(server.manager.stats().activeGenerations).toBe(0));
    const generation = server.manager.stats().recentGenerations.at(-1);
    expect(generation?.finishReason).toBe("cancelled");
    expect(generation?.completionTokens).toBeLessThan(maxTokens / 4);
  });

  it("makes progress on two concurrent streams of the same model", async () => {
    const client = createClient(InferenceService, transports.gRPC?.() as Transport);
    const events: string[] = [];
    const run = async (name: string, content: string) => {
      let first = true;
      for await (const message of client.streamComplete({
        model: server.modelId,
        messages: [{ role: Role.USER, content }],
        maxTokens: 48,
        temperature: 0,
      })) {
        if (first && message.text) events.push(`${name}:first`);
        first = false;
      }
      events.push(`${name}:end`);
    };
    await Promise.all([run("a", "Tell me a story"), run("b", "Write a poem")]);
    const firstEnd = Math.min(events.indexOf("a:end"), events.indexOf("b:end"));
    expect(events.indexOf("a:first")).toBeLessThan(firstEnd);
    expect(events.indexOf("b:first")).toBeLessThan(firstEnd);
  });
});

describe("bad input", () => {
  const client = () => createClient(InferenceService, transports["Connect (HTTP/1.1)"]?.() as Transport);
  const base = { model: "llama-cpp/llama-2-tiny-random", messages: hello };
  const cases: Array<[string, Record<string, unknown>, Code, RegExp]> = [
    [
      "unknown model",
      { model: "llama-cpp/nope" },
      Code.NotFound,
      /model "llama-cpp\/nope" does not exist.*ListModels/,
    ],
    ["unknown provider", { model: "nope" }, Code.NotFound, /model "nope" does not exist/],
    ["no model", { model: "" }, Code.InvalidArgument, /model is required/],
    ["no messages", { messages: [] }, Code.InvalidArgument, /messages must hold at least one message/],
    [
      "negative max_tokens",
      { maxTokens: -5 },
      Code.InvalidArgument,
      /max_tokens must be greater than 0 \(got -5\)/,
    ],
    ["zero max_tokens", { maxTokens: 0 }, Code.InvalidArgument, /max_tokens must be greater than 0/],
    [
      "temperature above 2",
      { temperature: 2.5 },
      Code.InvalidArgument,
      /temperature must be between 0 and 2 \(got 2.5\)/,
    ],
    [
      "negative temperature",
      { temperature: -0.1 },
      Code.InvalidArgument,
      /temperature must be between 0 and 2/,
    ],
    ["top_p of 0", { topP: 0 }, Code.InvalidArgument, /top_p must be greater than 0 and at most 1/],
    ["role not set", { messages: [{ content: "hi" }] }, Code.InvalidArgument, /messages\[0\]\.role must be/],
    [
      "empty content",
      { messages: [{ role: Role.USER, content: "" }] },
      Code.InvalidArgument,
      /messages\[0\]\.content/,
    ],
    [
      "five stop sequences",
      { stop: ["a", "b", "c", "d", "e"] },
      Code.InvalidArgument,
      /stop holds at most 4/,
    ],
  ];
  it.each(cases)("%s", async (_name, patch, code, message) => {
    for (const call of [
      () => client().complete({ ...base, ...patch }),
      () => collect(client().streamComplete({ ...base, ...patch })),
    ]) {
      const error = await call().then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect(error?.code).toBe(code);
      expect(error?.rawMessage).toMatch(message);
      expect(error?.rawMessage).toMatch(/\(correlation id: [\w-]+\)$/);
      expect(error?.metadata.get("x-correlation-id")).toBeTruthy();
    }
  });
});
