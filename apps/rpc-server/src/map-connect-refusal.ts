import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type Compression,
  compressedFlag,
  createAsyncIterable,
  encodeEnvelope,
  type UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import { codeToHttpStatus, errorFromJsonBytes, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { findTrailerError, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerParse, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import type { Logger } from "pino";
import type { RpcProtocol } from "./protocol-of.js";
import { toConnectError } from "./to-connect-error.js";

/** The call a refusal answers: the procedure its path named, and the request as it came. */
export interface RefusedCall {
  /** `<package.Service>/<Method>`. */
  procedure: string;
  methodKind: DescMethod["methodKind"];
  /** The HTTP methods the procedure takes (POST; GET too for Connect's side-effect-free methods). */
  allowedMethods: readonly string[];
  protocol: RpcProtocol;
  httpMethod: string;
  httpVersion: string;
  contentType: string;
}

/** Longest client-chosen text (a content type) quoted back in a message. */
const maxQuoted = 200;
/** Most bytes a compressed refusal may decompress to (Connect's errors are a few hundred). */
const maxRefusalBytes = 1024 * 1024;

/**
 * Answers again, as NOA answers every error (toConnectError: its code, a message safe to show that ends
 * with the correlation id), a refusal Connect made before any of NOA's interceptors ran:
 * - one without a body: a method (405), content type (415) or HTTP version (505) the procedure does not
 *   take. It gets UNIMPLEMENTED with a message naming what the procedure takes, as Connect's error JSON,
 *   or, for a gRPC or gRPC-Web request, as `grpc-status` and `grpc-message` headers (what gRPC clients read
 *   from an answer that is not HTTP 200), keeping the HTTP status;
 * - a unary call whose request Connect could not read (a message or envelope malformed or too large, an
 *   unknown encoding, a malformed timeout header): the same code, in the same framing (Connect's error
 *   JSON, gRPC's trailers, gRPC-Web's trailer frame), its message with the correlation id.
 * `refusal` may also be NOA's own, made before Connect could take the request (an error). Returns the
 * answer and the code it carries, for the call's log line.
 * https://connectrpc.com/docs/protocol, https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md
 */
export async function mapConnectRefusal(
  refusal: UniversalServerResponse | ConnectError,
  call: RefusedCall,
  context: {
    correlationId: string;
    logger: Logger;
    /** The encodings the router accepts: a refusal long enough is compressed with the client's. */
    compressions: readonly Compression[];
  },
): Promise<{ response: UniversalServerResponse; code: Code }> {
  if (refusal instanceof ConnectError) {
    const error = toConnectError(refusal, context);
    const status = call.protocol === "connect" ? codeToHttpStatus(error.code) : 200;
    return { response: bareAnswer(status, undefined, error, call), code: error.code };
  }
  const { status, header, body } = refusal;
  if (body === undefined) {
    const error = toConnectError(new ConnectError(describeBare(status, call), Code.Unimplemented), context);
    return { response: bareAnswer(status, header, error, call), code: error.code };
  }
  const decompress = async (bytes: Uint8Array, encoding: string | null | undefined) => {
    const compression = encoding ? context.compressions.find(({ name }) => name === encoding) : undefined;
    return compression ? compression.decompress(bytes, maxRefusalBytes) : bytes;
  };
  // Connect's error when its own could not be read: the answer's HTTP status is all there is.
  const unreadable = new ConnectError(`the request was refused (HTTP ${status})`, Code.Unknown);

  if (call.protocol === "grpc") {
    const trailer = refusal.trailer ?? new Headers();
    const error = toConnectError(findTrailerError(trailer) ?? unreadable, context);
    trailer.delete("grpc-status-details-bin");
    setTrailerStatus(trailer, error);
    return { response: { ...refusal, trailer }, code: error.code };
  }

  const bytes = await readAll(body);
  if (call.protocol === "grpc-web") {
    // Refused before any message: the body is Connect's trailer frame alone.
    let trailer = new Headers();
    try {
      for (let offset = 0; offset + 5 <= bytes.byteLength; ) {
        const flags = bytes[offset] as number;
        const length = new DataView(bytes.buffer, bytes.byteOffset + offset + 1, 4).getUint32(0);
        const data = bytes.subarray(offset + 5, offset + 5 + length);
        offset += 5 + length;
        if ((flags & trailerFlag) === 0) continue;
        trailer = trailerParse(
          flags & compressedFlag ? await decompress(data, header?.get("grpc-encoding")) : data,
        );
      }
    } catch {
      // Unreadable (it never is): `unreadable` stands in for it.
    }
    const error = toConnectError(findTrailerError(trailer) ?? unreadable, context);
    trailer.delete("grpc-status-details-bin");
    setTrailerStatus(trailer, error);
    return {
      response: {
        ...refusal,
        body: createAsyncIterable([encodeEnvelope(trailerFlag, trailerSerialize(trailer))]),
      },
      code: error.code,
    };
  }

  let refused: ConnectError;
  try {
    refused = errorFromJsonBytes(
      await decompress(bytes, header?.get("content-encoding")),
      undefined,
      unreadable,
    );
  } catch (error) {
    refused = ConnectError.from(error);
  }
  const error = toConnectError(refused, context);
  const json = errorToJsonBytes(error, undefined);
  const answerHeader = new Headers(header);
  answerHeader.delete("content-encoding");
  answerHeader.set("content-length", String(json.byteLength));
  for (const [name, value] of error.metadata) answerHeader.set(name, value);
  return {
    response: {
      status: codeToHttpStatus(error.code),
      header: answerHeader,
      body: createAsyncIterable([json]),
    },
    code: error.code,
  };
}

/** What a procedure does not take, said from the status Connect refused it with (and no body). */
function describeBare(status: number, call: RefusedCall): string {
  const { procedure } = call;
  switch (status) {
    case 405:
      return `${procedure} is called with ${call.allowedMethods.join(" or ")}, not ${call.httpMethod}`;
    case 415: {
      const given = call.contentType
        ? `content type "${quote(call.contentType)}"`
        : "a request without a content type";
      const connect =
        call.methodKind === "unary"
          ? "application/json or application/proto"
          : "application/connect+json or application/connect+proto";
      return `${procedure} does not take ${given}; it takes gRPC's application/grpc, gRPC-Web's application/grpc-web (each also +proto or +json) and Connect's ${connect}`;
    }
    case 505:
      return `${procedure} is a bidirectional stream, which needs HTTP/2; this request came over HTTP/${call.httpVersion}`;
    default:
      return `${procedure} refused the request (HTTP ${status})`;
  }
}

/**
 * An answer with no message: for gRPC and gRPC-Web its status in headers (trailers-only; Node sends them
 * with END_STREAM over HTTP/2 when nothing else is written), gRPC's percent-encoding for grpc-message;
 * otherwise Connect's error JSON.
 */
function bareAnswer(
  status: number,
  header: Headers | undefined,
  error: ConnectError,
  call: RefusedCall,
): UniversalServerResponse {
  const answerHeader = new Headers(header);
  if (status === 405) answerHeader.set("allow", call.allowedMethods.join(", "));
  if (call.protocol !== "connect") {
    answerHeader.set("content-type", call.contentType);
    // The error's metadata, grpc-status and grpc-message (percent-encoded as the gRPC spec says).
    setTrailerStatus(answerHeader, error);
    return { status, header: answerHeader };
  }
  for (const [name, value] of error.metadata) answerHeader.set(name, value);
  const json = errorToJsonBytes(error, undefined);
  answerHeader.set("content-type", "application/json");
  answerHeader.set("content-length", String(json.byteLength));
  return { status, header: answerHeader, body: createAsyncIterable([json]) };
}

async function readAll(body: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks);
}

/** A client-chosen string, cut to maxQuoted characters. */
function quote(text: string): string {
  return text.length > maxQuoted ? `${text.slice(0, maxQuoted)}…` : text;
}
