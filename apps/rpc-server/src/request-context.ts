import { type ContextValues, createContextKey } from "@connectrpc/connect";
import { AccessError, type Principal } from "@noa/access";
import { type Context, correlationIdFrom, correlationIdHeader, ROOT_CONTEXT } from "@noa/observability";

/** The request's correlation id, set for every call before any handler runs. */
export const correlationIdKey = createContextKey<string>("", { description: "correlation id" });

/** Where a request keeps its correlation id once taken (a property, not a WeakMap: no ephemeron per request for the GC). */
const correlationIdSlot = Symbol("noa.correlationId");

/**
 * The request's correlation id: the caller's (correlationIdFrom) or one made for it, the same each time
 * asked, so every layer of one request (both faces, the ops routes) sees the same.
 */
export function correlationIdOf(request: {
  headers: Record<string, string | string[] | undefined>;
  [correlationIdSlot]?: string;
}): string {
  let id = request[correlationIdSlot];
  if (id === undefined) {
    id = correlationIdFrom(request.headers[correlationIdHeader]);
    request[correlationIdSlot] = id;
  }
  return id;
}

/**
 * Set by the request interceptor as it takes a call. From then on the call's errors are NOA's own
 * (toConnectError) and its log line is the interceptor's; a call without it was refused by Connect before
 * any interceptor ran (createRpcHandler answers those).
 */
export const interceptedKey = createContextKey<boolean>(false, { description: "intercepted" });

/** The call's trace context (its server span), set by the request interceptor; handlers pass it on. */
export const traceContextKey = createContextKey<Context>(ROOT_CONTEXT, { description: "trace context" });

/**
 * The model a streaming call asked for, set by its handler once it has read the request (the request
 * interceptor sees a stream's request only as a stream), for the call's log line.
 */
export const requestedModelKey = createContextKey<string | undefined>(undefined, {
  description: "requested model",
});

/** The authenticated caller; set by the auth interceptor for every call except public ones (health). */
export const principalKey = createContextKey<Principal | undefined>(undefined, { description: "principal" });

/** The caller of a call that passed authentication (every non-public service). */
export function principalOf(values: ContextValues): Principal {
  const principal = values.get(principalKey);
  // Unreachable unless a service was registered as public by mistake: fail closed.
  if (!principal) throw new AccessError("unauthenticated", "this call needs credentials");
  return principal;
}
