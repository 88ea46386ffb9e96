import type { Interceptor } from "@connectrpc/connect";
import type { Authenticator } from "@noa/access";
import { principalKey, traceContextKey } from "./request-context.js";
import { authenticateInSpan } from "./traced.js";

/**
 * Authenticates every call (API key or JWT, from `authorization` or `x-api-key`) before its handler
 * runs (in an `auth` span under the call's), except calls to the public services (health), and puts
 * the caller in the context.
 */
export function createAuthInterceptor({
  authenticator,
  publicServices,
}: {
  authenticator: Authenticator;
  publicServices: string[];
}): Interceptor {
  const open = new Set(publicServices);
  return (next) => async (request) => {
    if (!open.has(request.service.typeName)) {
      const parent = request.contextValues.get(traceContextKey);
      request.contextValues.set(
        principalKey,
        await authenticateInSpan(authenticator, request.header, parent),
      );
    }
    return next(request);
  };
}
