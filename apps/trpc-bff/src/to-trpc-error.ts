import { Code, ConnectError } from "@connectrpc/connect";
import { correlationIdHeader } from "@noa/observability";
import { RetryInfoSchema } from "@noa/proto/google/rpc";
import { TRPCError } from "@trpc/server";
import type { Logger } from "pino";

type TRPCCode = TRPCError["code"];

/** DESIGN.md's error table, Connect/gRPC column → tRPC column; codes the table does not name map to their nearest tRPC code. */
const trpcCodes: Record<Code, TRPCCode> = {
  [Code.InvalidArgument]: "BAD_REQUEST",
  [Code.OutOfRange]: "BAD_REQUEST",
  [Code.Unauthenticated]: "UNAUTHORIZED",
  [Code.PermissionDenied]: "FORBIDDEN",
  [Code.NotFound]: "NOT_FOUND",
  [Code.ResourceExhausted]: "TOO_MANY_REQUESTS",
  [Code.Unavailable]: "BAD_GATEWAY",
  [Code.DeadlineExceeded]: "TIMEOUT",
  [Code.Canceled]: "CLIENT_CLOSED_REQUEST",
  [Code.AlreadyExists]: "CONFLICT",
  [Code.Aborted]: "CONFLICT",
  [Code.FailedPrecondition]: "PRECONDITION_FAILED",
  [Code.Unimplemented]: "NOT_IMPLEMENTED",
  [Code.Internal]: "INTERNAL_SERVER_ERROR",
  [Code.Unknown]: "INTERNAL_SERVER_ERROR",
  [Code.DataLoss]: "INTERNAL_SERVER_ERROR",
};

/** A TRPCError that knows the request's correlation id and, for rate limits, when to retry. */
export class BffError extends TRPCError {
  readonly correlationId: string;
  readonly retryAfterMs: number | undefined;

  constructor(options: {
    code: TRPCCode;
    message: string;
    correlationId: string;
    retryAfterMs?: number;
    cause?: unknown;
  }) {
    super({ code: options.code, message: options.message, cause: options.cause });
    this.name = "BffError";
    this.correlationId = options.correlationId;
    this.retryAfterMs = options.retryAfterMs;
  }
}

function withCorrelationId(message: string, correlationId: string): string {
  return message.includes(correlationId) ? message : `${message} (correlation id: ${correlationId})`;
}

/**
 * The BFF's one mapping from anything a procedure throws to what a web client sees (DESIGN.md "Errors").
 * An error rpc-server answered with keeps its message (already safe: rpc-server hides internal text and
 * names the correlation id); a call that never reached rpc-server, and any bug in the BFF, get a generic
 * message, and their cause goes to the log only.
 */
export function toTRPCError(error: unknown, context: { correlationId: string; logger: Logger }): TRPCError {
  const { correlationId, logger } = context;
  if (error instanceof TRPCError) return error;
  if (error instanceof ConnectError) {
    // rpc-server answers every call with its correlation id; its absence means no answer came.
    const answered = error.metadata.has(correlationIdHeader);
    if (error.code === Code.Canceled) {
      return new BffError({
        code: "CLIENT_CLOSED_REQUEST",
        message: withCorrelationId("the call was cancelled", correlationId),
        correlationId,
        cause: error,
      });
    }
    if (!answered) {
      logger.error({ err: error, correlationId }, "rpc-server could not be reached");
      const timedOut = error.code === Code.DeadlineExceeded;
      return new BffError({
        code: timedOut ? "TIMEOUT" : "BAD_GATEWAY",
        message: withCorrelationId(
          timedOut ? "NOA did not answer in time; try again" : "NOA could not be reached; try again shortly",
          correlationId,
        ),
        correlationId,
        cause: error,
      });
    }
    const code = trpcCodes[error.code];
    if (code === "INTERNAL_SERVER_ERROR") logger.error({ err: error, correlationId }, "rpc-server failed");
    return new BffError({
      code,
      message: withCorrelationId(
        code === "INTERNAL_SERVER_ERROR" ? "internal error" : error.rawMessage,
        correlationId,
      ),
      correlationId,
      retryAfterMs: retryAfterMsOf(error),
      cause: error,
    });
  }
  logger.error({ err: error, correlationId }, "procedure failed");
  return new BffError({
    code: "INTERNAL_SERVER_ERROR",
    message: withCorrelationId("internal error", correlationId),
    correlationId,
    cause: error,
  });
}

/** The retry delay of a rate-limit refusal: google.rpc.RetryInfo, else the `retry-after-ms` header. */
function retryAfterMsOf(error: ConnectError): number | undefined {
  const retryInfo = error.findDetails(RetryInfoSchema)[0];
  if (retryInfo?.retryDelay) {
    return Number(retryInfo.retryDelay.seconds) * 1_000 + Math.round(retryInfo.retryDelay.nanos / 1e6);
  }
  const header = Number(error.metadata.get("retry-after-ms") ?? Number.NaN);
  return Number.isFinite(header) ? header : undefined;
}
