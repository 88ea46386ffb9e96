import type { IncomingHttpHeaders } from "node:http";
import { type Context, correlationIdHeader, injectTraceContext, ROOT_CONTEXT } from "@noa/observability";
import type { Logger } from "pino";
import { correlationIdOf } from "./correlation-id-of.js";
import { createProcedureLogger, type ProcedureLogger } from "./create-procedure-logger.js";
import type { CallOptions, RpcClients } from "./rpc-clients.js";
import { readCookie, sessionCookieName } from "./session/session-cookie.js";
import type { SessionRevocations } from "./session/session-revocations.js";
import type { Session, SessionSealer } from "./session/session-sealer.js";
import { BffError, toTRPCError } from "./to-trpc-error.js";

/** What the context factory needs, built once by `build()`. */
export interface ContextDeps {
  rpc: RpcClients;
  sealer: SessionSealer;
  /** Sessions signed out before their cookie expires; asked on every request that carries one. */
  revocations: SessionRevocations;
  logger: Logger;
  /** Cookies get `Secure` (and the `__Host-` prefix): the BFF is served over https. */
  secureCookies: boolean;
  /** Origins allowed to send mutations; undefined: the origin the request was addressed to. */
  allowedOrigins: readonly string[] | undefined;
  /** How long a unary call to rpc-server may take (inference excepted). */
  rpcTimeoutMs: number;
  /** Writes each procedure call's log line; default: one writing to `logger`. */
  procedureLogger?: ProcedureLogger;
}

/** The request as the context sees it: its headers, and a way to set the session cookie on the answer. */
export interface RequestFacts {
  headers: IncomingHttpHeaders;
  /** The request's correlation id, when the server has already chosen it; default: correlationIdOf(headers). */
  correlationId?: string;
  /** Sets the session cookie to `token`, or clears it with undefined. */
  setSessionCookie(token: string | undefined): void;
  /** The request's server span (server.ts); calls to rpc-server carry its trace on. Default: none. */
  traceContext?: Context;
  /** tRPC's connection parameters (`?connectionParams=`): how a subscription sends its CSRF token. */
  connectionParams?: Readonly<Record<string, string | undefined>> | null;
}

const validTraceparent = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The per-request context every procedure gets. */
export interface BffContext {
  headers: IncomingHttpHeaders;
  /** tRPC's connection parameters of a subscription (its CSRF token), else empty. */
  connectionParams: Readonly<Record<string, string | undefined>>;
  correlationId: string;
  /** The signed-in caller, or undefined. */
  session: Session | undefined;
  rpc: RpcClients;
  logger: Logger;
  /** Where each procedure call's one log line goes (the logging middleware in trpc.ts, and server.ts). */
  procedureLogger: ProcedureLogger;
  allowedOrigins: readonly string[] | undefined;
  /** Starts a session for `apiKey` (already validated) and sets its cookie. */
  startSession(apiKey: string, keyPrefix: string): Promise<Session>;
  /** Clears the session cookie and revokes the session, so that a copy of the cookie stops working too. */
  endSession(): Promise<void>;
  /**
   * Calls rpc-server as `apiKey` with this request's correlation id and trace context, mapping any
   * failure to a TRPCError once (toTRPCError).
   */
  call<T>(
    apiKey: string,
    rpc: (options: CallOptions) => Promise<T>,
    options?: { signal?: AbortSignal; timeoutMs?: number | null },
  ): Promise<T>;
  /** Like `call`, for a server stream: the RPC is cancelled when `signal` aborts. */
  stream<T>(
    apiKey: string,
    rpc: (options: CallOptions) => AsyncIterable<T>,
    options: { signal: AbortSignal | undefined },
  ): AsyncGenerator<T>;
}

/**
 * Builds the context factory: the correlation id (the caller's, when it is a safe token, else a new
 * one), the session from its encrypted cookie, and calls to rpc-server that carry the caller's own key.
 */
export function createContextFactory(deps: ContextDeps) {
  const { rpc, sealer, revocations, logger, secureCookies, allowedOrigins, rpcTimeoutMs } = deps;
  const procedureLogger = deps.procedureLogger ?? createProcedureLogger(logger);

  /** Runs `work` on the revocation store; when it cannot answer, refuses the request (503) and logs why. */
  async function withRevocations<T>(correlationId: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      logger.error({ err: error, correlationId }, "session revocations could not be reached");
      throw new BffError({
        code: "SERVICE_UNAVAILABLE",
        message: `sessions cannot be checked right now; try again shortly (correlation id: ${correlationId})`,
        correlationId,
        cause: error,
      });
    }
  }

  return async function createContext(request: RequestFacts): Promise<BffContext> {
    const correlationId = request.correlationId ?? correlationIdOf(request.headers);
    const sealed = await sealer.open(readCookie(request.headers, sessionCookieName(secureCookies)));
    const revoked =
      sealed !== undefined && (await withRevocations(correlationId, () => revocations.isRevoked(sealed.id)));
    const session = revoked ? undefined : sealed;
    function callOptions(apiKey: string, signal: AbortSignal | undefined, timeoutMs: number | undefined) {
      const headers = injectTraceContext(
        { authorization: `Bearer ${apiKey}`, [correlationIdHeader]: correlationId },
        request.traceContext ?? ROOT_CONTEXT,
      );
      // With tracing off no propagator is registered: pass the caller's trace on as it came.
      const traceparent = request.headers.traceparent;
      if (!headers.traceparent && typeof traceparent === "string" && validTraceparent.test(traceparent)) {
        headers.traceparent = traceparent;
      }
      return { headers, signal, timeoutMs } satisfies CallOptions;
    }

    return {
      headers: request.headers,
      connectionParams: request.connectionParams ?? {},
      correlationId,
      session,
      rpc,
      logger,
      procedureLogger,
      allowedOrigins,
      async startSession(apiKey, keyPrefix) {
        const sealed = await sealer.seal({ apiKey, keyPrefix });
        request.setSessionCookie(sealed.token);
        return sealed.session;
      },
      async endSession() {
        request.setSessionCookie(undefined);
        if (session) {
          const { id, expiresAt } = session;
          await withRevocations(correlationId, () => revocations.revoke(id, expiresAt));
        }
      },
      async call(apiKey, call, options = {}) {
        const timeoutMs = options.timeoutMs === null ? undefined : (options.timeoutMs ?? rpcTimeoutMs);
        try {
          return await call(callOptions(apiKey, options.signal, timeoutMs));
        } catch (error) {
          throw toTRPCError(error, { correlationId, logger });
        }
      },
      async *stream(apiKey, call, options) {
        try {
          yield* call(callOptions(apiKey, options.signal, undefined));
        } catch (error) {
          throw toTRPCError(error, { correlationId, logger });
        }
      },
    };
  };
}
