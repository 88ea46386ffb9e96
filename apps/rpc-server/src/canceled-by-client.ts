import { constants, type Http2Stream } from "node:http2";

/**
 * Whether the client cancelled an HTTP/2 call before its answer was out: reset the stream with CANCEL,
 * as gRPC clients cancel (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md#errors).
 * Node's HTTP/2 client (under grpc-js and Connect for Node) cancels a stream whose request it has not
 * ended yet by ending it (END_STREAM) and sending the reset in its next write, so the server first sees
 * a request that ends cut short, and the reset only after. Once the client has ended its request, this
 * waits for the stream to close, which the answer's own END_STREAM does as soon as it is out, so no
 * answer is held back. A stream the client still writes on may stay open as long as the client likes:
 * it is judged on what has happened so far.
 */
export async function canceledByClient(stream: Http2Stream): Promise<boolean> {
  if (!stream.closed && stream.readableEnded) {
    await new Promise((resolve) => stream.once("close", resolve));
  }
  return stream.rstCode === constants.NGHTTP2_CANCEL;
}
