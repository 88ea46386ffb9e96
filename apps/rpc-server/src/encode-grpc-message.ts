/**
 * gRPC's Percent-Encoded `grpc-message` (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md):
 * UTF-8 bytes outside printable ASCII, and `%`, as %XX; for a status NOA writes into headers itself (a
 * trailers-only answer), where Connect's setTrailerStatus would use encodeURIComponent, which grpc-js
 * (decodeURI) leaves partly encoded.
 */
export function encodeGrpcMessage(text: string): string {
  let encoded = "";
  for (const byte of Buffer.from(text)) {
    encoded +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return encoded;
}
