import { initTRPC, TRPCError } from "@trpc/server";
import { TRPC_ERROR_CODES_BY_KEY } from "@trpc/server/rpc";
import { ZodError } from "zod";
import type { BffContext } from "./context.js";
import type { ProcedureCall, ProcedureOutcome } from "./create-procedure-logger.js";
import { checkCsrf, csrfConnectionParam } from "./session/check-csrf.js";
import { BffError, toTRPCError } from "./to-trpc-error.js";

/** A field that failed validation: its dotted path (`messages.0.content`) and what is wrong. */
export interface FieldError {
  path: string;
  message: string;
}

function fieldErrorsOf(error: ZodError): FieldError[] {
  return error.issues.map((issue) => ({ path: issue.path.join("."), message: issue.message }));
}

const t = initTRPC.context<BffContext>().create({
  // Never send stacks, whatever NODE_ENV says.
  isDev: false,
  sse: { ping: { enabled: true, intervalMs: 15_000 } },
  /**
   * Every error a client sees carries the correlation id (in `data.correlationId` and in the message);
   * validation errors list their fields; rate limits say when to retry; bugs say nothing more than that.
   */
  errorFormatter({ shape, error, type, ctx }) {
    const correlationId = error instanceof BffError ? error.correlationId : ctx?.correlationId;
    const fieldErrors = error.cause instanceof ZodError ? fieldErrorsOf(error.cause) : undefined;
    let message = shape.message;
    if (fieldErrors) {
      message = `invalid input: ${fieldErrors.map((field) => `${field.path || "input"}: ${field.message}`).join("; ")}`;
    } else if (error.code === "PAYLOAD_TOO_LARGE") {
      message = "the request body is larger than this server takes (BFF_MAX_BODY_BYTES)";
    } else if (error.code === "BAD_REQUEST" && error.cause instanceof SyntaxError) {
      // tRPC's JSON.parse of the input failed; its text (V8's, quoting the input) is not for clients, and
      // V8 gives no position that could be read without parsing its message.
      message =
        type === "mutation"
          ? "the request body is not valid JSON"
          : "the input query parameter is not valid JSON";
    } else if (error.code === "INTERNAL_SERVER_ERROR" && !(error instanceof BffError)) {
      message = "internal error";
    }
    if (correlationId && !message.includes(correlationId))
      message = `${message} (correlation id: ${correlationId})`;
    const { stack: _stack, ...data } = shape.data;
    return {
      ...shape,
      message,
      data: {
        ...data,
        correlationId: correlationId ?? null,
        retryAfterMs: error instanceof BffError ? (error.retryAfterMs ?? null) : null,
        fieldErrors: fieldErrors ?? null,
      },
    };
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/**
 * Every procedure call's one log line (ctx.procedureLogger), written when the call ends: for a query or
 * mutation when it returns or fails, for a subscription when its stream ends. First in the chain, so
 * that refusals by the later middlewares and by input validation are logged too.
 */
const loggedProcedure = t.procedure.use(async ({ ctx, path, type, signal, next }) => {
  const call: ProcedureCall = {
    correlationId: ctx.correlationId,
    procedure: path,
    type,
    startedAt: performance.now(),
  };
  const result = await next();
  if (!result.ok) {
    ctx.procedureLogger.ended(call, result.error.code, result.error);
    return result;
  }
  if (type !== "subscription" || !isAsyncIterable(result.data)) {
    ctx.procedureLogger.ended(call, "ok");
    return result;
  }
  return { ...result, data: loggedUntilEnd(result.data, { ctx, call, signal }) };
});

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

/**
 * A subscription's events, passed on as they come, with its log line written when the stream ends:
 * CLIENT_CLOSED_REQUEST when the client left (the signal aborted, or the stream was stopped before its
 * end), the code of an error event (chat.stream reports failures as `{ type: "error", code }`), the code
 * of what it threw (mapped once by toTRPCError, so tRPC reports that same error and it is not logged
 * again), else ok.
 */
async function* loggedUntilEnd(
  events: AsyncIterable<unknown>,
  { ctx, call, signal }: { ctx: BffContext; call: ProcedureCall; signal: AbortSignal | undefined },
): AsyncGenerator<unknown> {
  let outcome: ProcedureOutcome = "CLIENT_CLOSED_REQUEST";
  let failure: TRPCError | undefined;
  let reported: ProcedureOutcome | undefined;
  try {
    for await (const event of events) {
      reported = errorEventCode(event) ?? reported;
      yield event;
    }
    outcome = reported ?? "ok";
  } catch (error) {
    failure = toTRPCError(error, { correlationId: ctx.correlationId, logger: ctx.logger });
    outcome = failure.code;
    throw failure;
  } finally {
    ctx.procedureLogger.ended(call, signal?.aborted ? "CLIENT_CLOSED_REQUEST" : outcome, failure);
  }
}

const trpcCodes = new Set<string>(Object.keys(TRPC_ERROR_CODES_BY_KEY));

/** The tRPC code of an event that reports a failure (`{ type: "error", code }`), else undefined. */
function errorEventCode(event: unknown): ProcedureOutcome | undefined {
  if (typeof event !== "object" || event === null) return undefined;
  const { type, code } = event as { type?: unknown; code?: unknown };
  return type === "error" && typeof code === "string" && trpcCodes.has(code)
    ? (code as ProcedureOutcome)
    : undefined;
}

/**
 * Every procedure: mutations, and subscriptions of a signed-in caller, must pass the CSRF checks
 * (checkCsrf) before they run. A subscription is a GET, but it may start work in the caller's name
 * (chat.stream starts a paid generation): it sends the session's token as its `csrfToken` connection
 * parameter, since EventSource cannot set headers. One without a session is refused by
 * protectedProcedure as unauthenticated. Queries change nothing and need only the SameSite cookie.
 */
export const publicProcedure = loggedProcedure.use(({ ctx, type, next }) => {
  if (type === "mutation" || (type === "subscription" && ctx.session)) {
    const refused = checkCsrf(ctx.headers, {
      allowedOrigins: ctx.allowedOrigins,
      sessionToken: ctx.session?.csrfToken,
      sentToken: type === "subscription" ? ctx.connectionParams[csrfConnectionParam] : undefined,
    });
    if (refused) {
      throw new BffError({ code: "FORBIDDEN", message: refused, correlationId: ctx.correlationId });
    }
  }
  return next();
});

/** Procedures for a signed-in caller: `ctx.session` is set, and its key is what rpc-server sees. */
export const protectedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.session) {
    throw new BffError({
      code: "UNAUTHORIZED",
      message: "sign in with a NOA API key first (auth.signIn)",
      correlationId: ctx.correlationId,
    });
  }
  return next({ ctx: { session: ctx.session } });
});

export { TRPCError };
