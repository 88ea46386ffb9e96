import type { Interceptor } from "@connectrpc/connect";

/** An API key (`noa_…`) or JWT, or a function returning the current one (for tokens that rotate). */
export type Credential = string | (() => string | Promise<string>);

/**
 * A Connect interceptor that sends `Authorization: Bearer <credential>` on every call, unless the call
 * set its own `authorization` header.
 */
export function createAuthInterceptor(credential: Credential): Interceptor {
  return (next) => async (request) => {
    if (!request.header.has("authorization")) {
      const value = typeof credential === "function" ? await credential() : credential;
      if (value) request.header.set("authorization", `Bearer ${value}`);
    }
    return next(request);
  };
}
