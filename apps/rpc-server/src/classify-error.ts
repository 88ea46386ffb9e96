import { Code, ConnectError } from "@connectrpc/connect";
import { AccessError, type AccessErrorCode } from "@noa/access";
import {
  InvalidRequestError,
  NoSuchModelError,
  NoTargetAvailableError,
  ProviderError,
  StreamInterruptedError,
} from "@noa/providers";

/** What a client may learn of an error: DESIGN.md's code and a message that is safe to show. */
export interface ErrorClass {
  code: Code;
  message: string;
}

const accessCodes: Record<AccessErrorCode, Code> = {
  "invalid-argument": Code.InvalidArgument,
  unauthenticated: Code.Unauthenticated,
  "permission-denied": Code.PermissionDenied,
  "not-found": Code.NotFound,
  "resource-exhausted": Code.ResourceExhausted,
  unavailable: Code.Unavailable,
};

/**
 * The one classification of anything a handler throws (DESIGN.md's error table), shared by the Connect
 * face (toConnectError) and the REST face (toOpenAIError), which differ only in how they spell the code.
 * Caller mistakes keep their message; provider failures and bugs get a generic one, never upstream text.
 */
export function classifyError(error: unknown): ErrorClass {
  if (error instanceof ConnectError) {
    if (error.code === Code.Internal || error.code === Code.Unknown) {
      return { code: Code.Internal, message: "internal error" };
    }
    return { code: error.code, message: error.rawMessage };
  }
  if (error instanceof AccessError) return { code: accessCodes[error.code], message: error.message };
  if (error instanceof NoSuchModelError) return { code: Code.NotFound, message: error.message };
  if (error instanceof InvalidRequestError) return { code: Code.InvalidArgument, message: error.message };
  // These two messages are written by NOA for clients and carry no upstream text.
  if (error instanceof StreamInterruptedError || error instanceof NoTargetAvailableError) {
    return { code: Code.Unavailable, message: error.message };
  }
  if (error instanceof ProviderError) {
    if (!error.isRetryable && (error.statusCode === 400 || error.statusCode === 422)) {
      return {
        code: Code.InvalidArgument,
        message: `model provider "${error.provider}" refused the request (HTTP ${error.statusCode}); check its parameters for this model`,
      };
    }
    if (isUnknownUpstreamModel(error)) {
      return {
        code: Code.NotFound,
        message: `model provider "${error.provider}" does not serve this model (HTTP 404); list the models with ListModels or GET /v1/models`,
      };
    }
    return {
      code: Code.Unavailable,
      message: `model provider "${error.provider}" failed to answer; try again later`,
    };
  }
  return { code: Code.Internal, message: "internal error" };
}

/** An upstream's own 404 for a model id it was given as is (OpenAI-compatible servers name their models freely). */
function isUnknownUpstreamModel(error: ProviderError): boolean {
  return !error.isRetryable && error.statusCode === 404;
}

/** The name of the code a client will see for this error (`unavailable`…), for the usage ledger and logs. */
export function codeName(error: unknown): string {
  return codeNames[classifyError(error).code];
}

/**
 * An RPC's outcome as its log line, its span and its metrics (`noa_rpc_requests_total{code}`, which the
 * deploy/ dashboards and alerts query) all spell it: `ok`, or its code's snake_case name (codeNames).
 */
export function outcomeName(code: Code | undefined): string {
  return code === undefined ? "ok" : codeNames[code];
}

/** Each code's snake_case name, as the ledger, the logs and OpenAI-style error bodies spell it. */
export const codeNames: Readonly<Record<Code, string>> = {
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
