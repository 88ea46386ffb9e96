/** The RPC protocols the server speaks, as logs and the `protocol` label of the RPC metrics name them. */
export type RpcProtocol = "grpc" | "grpc-web" | "connect";

/**
 * Which RPC protocol a request speaks, by its content type (gRPC's `application/grpc*`, gRPC-Web's
 * `application/grpc-web*`); anything else, a Connect GET without one included, is Connect.
 */
export function protocolOf(contentType: string | null | undefined): RpcProtocol {
  if (contentType?.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType?.startsWith("application/grpc")) return "grpc";
  return "connect";
}
