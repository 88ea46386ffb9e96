import { Code, ConnectError } from "@connectrpc/connect";
import { RetryInfoSchema } from "@noa/proto/google/rpc";

/** What a failed call tells a user: the gRPC code, the server's message, its correlation id and any retry delay. */
export interface NoaErrorDescription {
  /** The code's name in the gRPC spelling, e.g. `unauthenticated`, `not_found`. */
  code: string;
  connectCode: Code;
  /** The server's message (it names the correlation id), or the transport's for a network failure. */
  message: string;
  /** The `x-correlation-id` the server answered with; undefined when no server answered. */
  correlationId: string | undefined;
  /** How long to wait before retrying, when the server said (rate limits). */
  retryAfterMs: number | undefined;
}

/**
 * Reads a failed call's error (a ConnectError, or anything else a transport threw) into the fields a
 * user should see. The correlation id comes from the response header, never from parsing the message.
 */
export function describeError(error: unknown): NoaErrorDescription {
  const connectError = ConnectError.from(error);
  // Headers and trailers are merged into metadata, so a server that sends the id in both repeats it.
  const correlationId = connectError.metadata.get("x-correlation-id")?.split(",")[0]?.trim() || undefined;
  const retryInfo = connectError.findDetails(RetryInfoSchema)[0];
  const headerDelay = Number(connectError.metadata.get("retry-after-ms") ?? Number.NaN);
  const retryAfterMs = retryInfo?.retryDelay
    ? Number(retryInfo.retryDelay.seconds) * 1_000 + Math.round(retryInfo.retryDelay.nanos / 1e6)
    : Number.isFinite(headerDelay)
      ? headerDelay
      : undefined;
  return {
    code: codeName(connectError.code),
    connectCode: connectError.code,
    message: connectError.rawMessage,
    correlationId,
    retryAfterMs,
  };
}

function codeName(code: Code): string {
  return (Code[code] ?? "unknown").replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}
