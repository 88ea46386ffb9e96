import { Code, ConnectError } from "@connectrpc/connect";
import type { Compression } from "@connectrpc/connect/protocol";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";

/**
 * The encodings the RPC face accepts and answers with (connectNodeAdapter's defaults: gzip, then brotli),
 * except that a request body that does not decompress is the client's INVALID_ARGUMENT whatever zlib says:
 * Connect calls every zlib error but a few (a truncated body's "unexpected end of file" among them) INTERNAL,
 * which NOA logs as its own failure, with a stack, and answers as "internal error".
 */
export const acceptedCompressions: Compression[] = [compressionGzip, compressionBrotli].map(
  (compression) => ({
    name: compression.name,
    compress: (bytes) => compression.compress(bytes),
    decompress: (bytes, readMaxBytes) =>
      compression.decompress(bytes, readMaxBytes).catch((reason: unknown) => {
        const error = ConnectError.from(reason);
        if (error.code !== Code.Internal) throw error;
        throw new ConnectError(
          `the request is not valid ${compression.name} data`,
          Code.InvalidArgument,
          undefined,
          undefined,
          reason,
        );
      }),
  }),
);
