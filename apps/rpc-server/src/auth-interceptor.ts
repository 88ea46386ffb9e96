import type { DescMethod } from "@bufbuild/protobuf";
import { type ContextValues, createContextKey, type Interceptor } from "@connectrpc/connect";
import { AccessError, type Authenticator, type RateLimitAllowed, type RateLimiter } from "@noa/access";
import { admitCall } from "./call-accounting.js";
import { principalKey, traceContextKey } from "./request-context.js";
import { authenticateInSpan } from "./traced.js";

/** The call's admission against the caller's limits, set by the auth interceptor with the caller. */
export const admissionKey = createContextKey<RateLimitAllowed | undefined>(undefined, {
  description: "rate-limit admission",
});

/** The admission of a call that passed authentication (for a completion's accounting and headers). */
export function admissionOf(values: ContextValues): RateLimitAllowed {
  const admitted = values.get(admissionKey);
  // Unreachable unless a service was registered as public by mistake: fail closed.
  if (!admitted) throw new AccessError("unauthenticated", "this call needs credentials");
  return admitted;
}

/**
 * Authenticates every call (API key or JWT, from `authorization` or `x-api-key`) before its handler
 * runs (in an `auth` span under the call's), except calls to the public services (health), puts the
 * caller in the context, and takes one request from the caller's bucket (RESOURCE_EXHAUSTED with the
 * retry delay when it is empty): every authenticated call counts, once. The `spendingTokens` methods
 * (those that run a model) are refused while the caller's token budget is spent as well.
 */
export function createAuthInterceptor({
  authenticator,
  rateLimiter,
  publicServices,
  spendingTokens,
}: {
  authenticator: Authenticator;
  rateLimiter: RateLimiter;
  publicServices: string[];
  spendingTokens: readonly DescMethod[];
}): Interceptor {
  const open = new Set(publicServices);
  const spending = new Set(spendingTokens);
  return (next) => async (request) => {
    if (!open.has(request.service.typeName)) {
      const parent = request.contextValues.get(traceContextKey);
      const principal = await authenticateInSpan(authenticator, request.header, parent);
      request.contextValues.set(principalKey, principal);
      request.contextValues.set(
        admissionKey,
        await admitCall(rateLimiter, principal, parent, { checkTokens: spending.has(request.method) }),
      );
    }
    return next(request);
  };
}
