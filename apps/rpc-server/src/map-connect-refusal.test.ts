import { Code, ConnectError } from "@connectrpc/connect";
import {
  compressedFlag,
  createAsyncIterable,
  encodeEnvelope,
  type UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import { errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerParse, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import { compressionGzip } from "@connectrpc/connect-node";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { mapConnectRefusal, type RefusedCall } from "./map-connect-refusal.js";

const context = {
  correlationId: "cid-7",
  logger: pino({ level: "silent" }),
  compressions: [compressionGzip],
};
const call: RefusedCall = {
  procedure: "noa.inference.v1.InferenceService/Complete",
  methodKind: "unary",
  allowedMethods: ["POST"],
  protocol: "connect",
  httpMethod: "POST",
  httpVersion: "1.1",
  contentType: "application/json",
};
// Connect compresses an answer of 1 KiB or more with the encoding the client accepts.
const longMessage = `cannot decode message: ${"x".repeat(1200)}`;

async function bodyOf(response: UniversalServerResponse): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of response.body ?? []) chunks.push(chunk);
  return Buffer.concat(chunks);
}

describe("mapConnectRefusal", () => {
  it("reads a Connect error Connect compressed, and answers it uncompressed with the correlation id", async () => {
    const json = errorToJsonBytes(new ConnectError(longMessage, Code.InvalidArgument), undefined);
    const compressed = await compressionGzip.compress(json);
    const { response, code } = await mapConnectRefusal(
      {
        status: 400,
        header: new Headers({ "content-type": "application/json", "content-encoding": "gzip" }),
        body: createAsyncIterable([compressed]),
      },
      call,
      context,
    );
    const body = await bodyOf(response);
    expect(code).toBe(Code.InvalidArgument);
    expect(response.status).toBe(400);
    expect(response.header?.get("content-encoding")).toBeNull();
    expect(response.header?.get("content-length")).toBe(String(body.byteLength));
    expect(JSON.parse(Buffer.from(body).toString())).toEqual({
      code: "invalid_argument",
      message: `${longMessage} (correlation id: cid-7)`,
    });
  });

  it("reads a gRPC-Web trailer frame Connect compressed, and answers it as a plain one", async () => {
    const trailer = setTrailerStatus(new Headers(), new ConnectError(longMessage, Code.ResourceExhausted));
    const frame = encodeEnvelope(
      trailerFlag | compressedFlag,
      await compressionGzip.compress(trailerSerialize(trailer)),
    );
    const { response, code } = await mapConnectRefusal(
      {
        status: 200,
        header: new Headers({ "content-type": "application/grpc-web+proto", "grpc-encoding": "gzip" }),
        body: createAsyncIterable([frame]),
      },
      { ...call, protocol: "grpc-web", contentType: "application/grpc-web+proto" },
      context,
    );
    const body = await bodyOf(response);
    expect(code).toBe(Code.ResourceExhausted);
    expect(body[0]).toBe(trailerFlag);
    const answered = trailerParse(body.subarray(5));
    expect(answered.get("grpc-status")).toBe(String(Code.ResourceExhausted));
    expect(decodeURIComponent(answered.get("grpc-message") ?? "")).toBe(
      `${longMessage} (correlation id: cid-7)`,
    );
  });

  it("hides the text of an internal error Connect answered, as every NOA error does", async () => {
    const trailer = setTrailerStatus(
      new Headers(),
      new ConnectError("parse binary: at /srv/noa/x.ts:3", Code.Internal),
    );
    const { response, code } = await mapConnectRefusal(
      { status: 200, header: new Headers(), body: createAsyncIterable([]), trailer },
      { ...call, protocol: "grpc", contentType: "application/grpc" },
      context,
    );
    expect(code).toBe(Code.Internal);
    expect(decodeURIComponent(response.trailer?.get("grpc-message") ?? "")).toBe(
      "internal error (correlation id: cid-7)",
    );
  });
});
