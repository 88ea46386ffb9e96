import type { Interceptor } from "@connectrpc/connect";
import type { Authenticator } from "@noa/access";
import { principalKey } from "./request-context.js";

/**
 * Authenticates every call (API key or JWT, from `authorization` or `x-api-key`) before its handler
 * runs, except calls to the public services (health), and puts the caller in the context.
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
      request.contextValues.set(principalKey, await authenticator.authenticate(request.header));
    }
    return next(request);
  };
}
