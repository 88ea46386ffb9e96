import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { ConnectError } from "@connectrpc/connect";
import { AccessError } from "@noa/access";
import { RetryInfoSchema } from "@noa/proto/google/rpc";
import type { Logger } from "pino";
import { classifyError } from "./classify-error.js";
import { logFailure } from "./log-failure.js";
import { RateLimitExceededError } from "./rate-limit-exceeded-error.js";
import { setRateLimitHeaders } from "./rate-limit-headers.js";

/**
 * The Connect face's one mapping from anything a handler throws to what an RPC client sees, over the
 * shared classification (classifyError). Provider failures and bugs are logged with their cause. Every
 * error carries the correlation id in its message (the server puts it on every response as
 * `x-correlation-id`); a rate-limit refusal carries `retry-after-ms` and the spent budget's `x-ratelimit-*`
 * as metadata.
 */
export function toConnectError(
  error: unknown,
  context: {
    correlationId: string;
    logger: Logger;
    /**
     * The call's signal: an error that is its abort reason (the server's shutdown past the grace period,
     * as documented) ended the call on purpose, and is logged at info without a stack, not as a failure.
     */
    signal?: AbortSignal;
  },
): ConnectError {
  const { correlationId } = context;
  const { code, message } = classifyError(error);
  // Details a handler attached on purpose (e.g. google.rpc.BadRequest) travel with the error.
  const details =
    error instanceof ConnectError && code === error.code
      ? error.details.filter((detail) => "desc" in detail)
      : [];
  logFailure(error, { code, message }, context);
  const metadata = new Headers();
  if (error instanceof AccessError && error.retryAfterMs !== undefined) {
    details.push({
      desc: RetryInfoSchema,
      value: create(RetryInfoSchema, { retryDelay: durationFromMs(error.retryAfterMs) }),
    });
    metadata.set("retry-after-ms", String(Math.ceil(error.retryAfterMs)));
  }
  // The budget that refused, spent: the same `x-ratelimit-*` headers as the REST face's 429.
  if (error instanceof RateLimitExceededError) setRateLimitHeaders(metadata, error.standing, error.budget);
  return new ConnectError(`${message} (correlation id: ${correlationId})`, code, metadata, details, error);
}
