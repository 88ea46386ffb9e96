import { Code } from "@connectrpc/connect";
import type { Logger } from "pino";
import { codeNames, type ErrorClass } from "./classify-error.js";

/**
 * Logs a failure the client sees as INTERNAL or UNAVAILABLE (classifyError's `failure`), for both faces'
 * mappers: an error that is the call's own abort reason (the server's shutdown past the grace period, as
 * documented) ended the call on purpose and is an info line without a stack; anything else is an error
 * line with its cause. Other codes are the caller's doing and are not logged here.
 */
export function logFailure(
  error: unknown,
  failure: ErrorClass,
  context: { correlationId: string; logger: Logger; signal?: { aborted: boolean; reason: unknown } },
): void {
  const { code, message } = failure;
  if (code !== Code.Internal && code !== Code.Unavailable && code !== Code.Unknown) return;
  const { correlationId, logger, signal } = context;
  if (signal?.aborted && error === signal.reason) {
    logger.info({ correlationId, code: codeNames[code], reason: message }, "call ended by the server");
  } else {
    logger.error({ err: error, correlationId }, "request failed");
  }
}
