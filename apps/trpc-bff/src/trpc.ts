import { initTRPC, TRPCError } from "@trpc/server";
import { ZodError } from "zod";
import type { BffContext } from "./context.js";
import { checkCsrf } from "./session/check-csrf.js";
import { BffError } from "./to-trpc-error.js";

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
  errorFormatter({ shape, error, ctx }) {
    const correlationId = error instanceof BffError ? error.correlationId : ctx?.correlationId;
    const fieldErrors = error.cause instanceof ZodError ? fieldErrorsOf(error.cause) : undefined;
    let message = shape.message;
    if (fieldErrors) {
      message = `invalid input: ${fieldErrors.map((field) => `${field.path || "input"}: ${field.message}`).join("; ")}`;
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

/** Every procedure: mutations must pass the CSRF checks (checkCsrf) before they run. */
export const publicProcedure = t.procedure.use(({ ctx, type, next }) => {
  if (type === "mutation") {
    const refused = checkCsrf(ctx.headers, {
      allowedOrigins: ctx.allowedOrigins,
      sessionToken: ctx.session?.csrfToken,
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
