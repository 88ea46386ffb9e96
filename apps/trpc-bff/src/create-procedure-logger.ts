import { elapsedMs, logRequestLine } from "@noa/observability";
import type { TRPCError, TRPCProcedureType } from "@trpc/server";
import type { Logger } from "pino";
import { BffError } from "./to-trpc-error.js";

/** How a procedure call ended: `ok`, or a tRPC error code (CLIENT_CLOSED_REQUEST: the client left). */
export type ProcedureOutcome = "ok" | TRPCError["code"];

/** A procedure call, as its log line names it. */
export interface ProcedureCall {
  correlationId: string;
  /** The procedure's path (`chat.stream`); for a request tRPC refused whole, the path of its URL. */
  procedure: string;
  /** `unknown` when tRPC refused the request before it found the procedure. */
  type: TRPCProcedureType | "unknown";
  /** `performance.now()` when the call began. */
  startedAt: number;
}

/** Writes each procedure call's one log line. */
export interface ProcedureLogger {
  /**
   * The call ended with `outcome`. `failure` is the error it failed with, when it threw one: tRPC reports
   * some failures more than once (a subscription refused before it started reaches onError twice), and
   * a failure already written is not written again.
   */
  ended(call: ProcedureCall, outcome: ProcedureOutcome, failure?: TRPCError): void;
}

/**
 * The BFF's counterpart of rpc-server's "rpc" line: one `trpc` line per procedure call at info, with
 * `correlationId`, `procedure`, `type`, `code` (`ok` or the tRPC code) and `ms`, written by
 * logRequestLine as rpc-server writes its own. A failure that did not go through toTRPCError (a bug
 * thrown in a procedure) also gets an error line with its cause, which the client never sees.
 */
export function createProcedureLogger(logger: Logger): ProcedureLogger {
  const written = new WeakSet<TRPCError>();
  return {
    ended(call, outcome, failure) {
      if (failure) {
        if (written.has(failure)) return;
        written.add(failure);
        if (failure.code === "INTERNAL_SERVER_ERROR" && !(failure instanceof BffError)) {
          logger.error(
            { err: failure.cause ?? failure, correlationId: call.correlationId, procedure: call.procedure },
            "procedure failed",
          );
        }
      }
      logRequestLine(
        logger,
        {
          correlationId: call.correlationId,
          procedure: call.procedure,
          type: call.type,
          code: outcome,
          ms: elapsedMs(call.startedAt),
        },
        "trpc",
      );
    },
  };
}
