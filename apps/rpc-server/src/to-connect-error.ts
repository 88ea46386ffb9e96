import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { AccessError, type AccessErrorCode } from "@noa/access";
import { RetryInfoSchema } from "@noa/proto/google/rpc";
import {
  InvalidRequestError,
  NoSuchModelError,
  NoTargetAvailableError,
  ProviderError,
  StreamInterruptedError,
} from "@noa/providers";
import type { Logger } from "pino";
import { correlationIdHeader } from "./request-context.js";

/**
 * The one mapping from anything a handler throws to what an RPC client sees (DESIGN.md error table).
 * Caller mistakes keep their message; provider failures and bugs get a generic one, with the cause
 * logged. Every error carries the correlation id, in its message and in the `x-correlation-id` header.
 */
export function toConnectError(
  error: unknown,
  context: { correlationId: string; logger: Logger },
): ConnectError {
  const { correlationId, logger } = context;
  const [code, message] = classify(error);
  // Details a handler attached on purpose (e.g. google.rpc.BadRequest) travel with the error.
  const details =
    error instanceof ConnectError && code === error.code
      ? error.details.filter((detail) => "desc" in detail)
      : [];
  if (code === Code.Internal || code === Code.Unavailable || code === Code.Unknown) {
    logger.error({ err: error, correlationId }, "request failed");
  }
  const metadata = new Headers({ [correlationIdHeader]: correlationId });
  if (error instanceof AccessError && error.retryAfterMs !== undefined) {
    details.push({
      desc: RetryInfoSchema,
      value: create(RetryInfoSchema, { retryDelay: durationFromMs(error.retryAfterMs) }),
    });
    metadata.set("retry-after-ms", String(Math.ceil(error.retryAfterMs)));
  }
  return new ConnectError(`${message} (correlation id: ${correlationId})`, code, metadata, details, error);
}

/** The name of the code a client will see for this error (`unavailable`…), for the usage ledger and metrics. */
export function codeName(error: unknown): string {
  return codeNames[classify(error)[0]];
}

const codeNames: Record<Code, string> = {
  [Code.Canceled]: "canceled",
  [Code.Unknown]: "unknown",
  [Code.InvalidArgument]: "invalid_argument",
  [Code.DeadlineExceeded]: "deadline_exceeded",
  [Code.NotFound]: "not_found",
  [Code.AlreadyExists]: "already_exists",
  [Code.PermissionDenied]: "permission_denied",
  [Code.ResourceExhausted]: "resource_exhausted",
  [Code.FailedPrecondition]: "failed_precondition",
  [Code.Aborted]: "aborted",
  [Code.OutOfRange]: "out_of_range",
  [Code.Unimplemented]: "unimplemented",
  [Code.Internal]: "internal",
  [Code.Unavailable]: "unavailable",
  [Code.DataLoss]: "data_loss",
  [Code.Unauthenticated]: "unauthenticated",
};

const accessCodes: Record<AccessErrorCode, Code> = {
  "invalid-argument": Code.InvalidArgument,
  unauthenticated: Code.Unauthenticated,
  "permission-denied": Code.PermissionDenied,
  "not-found": Code.NotFound,
  "resource-exhausted": Code.ResourceExhausted,
  unavailable: Code.Unavailable,
};

function classify(error: unknown): [Code, string] {
  if (error instanceof ConnectError) {
    if (error.code === Code.Internal || error.code === Code.Unknown) return [Code.Internal, "internal error"];
    return [error.code, error.rawMessage];
  }
  if (error instanceof AccessError) return [accessCodes[error.code], error.message];
  if (error instanceof NoSuchModelError) return [Code.NotFound, error.message];
  if (error instanceof InvalidRequestError) return [Code.InvalidArgument, error.message];
  // These two messages are written by NOA for clients and carry no upstream text.
  if (error instanceof StreamInterruptedError || error instanceof NoTargetAvailableError) {
    return [Code.Unavailable, error.message];
  }
  if (error instanceof ProviderError) {
    if (!error.isRetryable && (error.statusCode === 400 || error.statusCode === 422)) {
      return [
        Code.InvalidArgument,
        `model provider "${error.provider}" refused the request (HTTP ${error.statusCode}); check its parameters for this model`,
      ];
    }
    return [Code.Unavailable, `model provider "${error.provider}" failed to answer; try again later`];
  }
  return [Code.Internal, "internal error"];
}
