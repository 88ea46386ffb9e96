import { EventSource } from "eventsource";
import { type BffClient, createBffClient } from "../client/create-bff-client.js";

/**
 * A browser-like @trpc/client for Node tests: one cookie jar shared by HTTP calls and SSE subscriptions
 * (the `eventsource` package, Node 20 has none), and the CSRF token remembered from `auth.signIn` or
 * `auth.session`, as the playground does.
 */
export function createTestClient(bffUrl: string, options: { origin?: string } = {}) {
  const cookies = new Map<string, string>();
  const state = { csrfToken: null as string | null };
  const jarFetch: typeof fetch = async (input, init) => {
    const headers = new Headers(init?.headers);
    if (cookies.size > 0) {
      headers.set("cookie", [...cookies].map(([name, value]) => `${name}=${value}`).join("; "));
    }
    if (options.origin) headers.set("origin", options.origin);
    const response = await fetch(input, { ...init, headers });
    for (const line of response.headers.getSetCookie()) {
      const [pair = "", ...attributes] = line.split(";").map((part) => part.trim());
      const index = pair.indexOf("=");
      const name = pair.slice(0, index);
      const value = pair.slice(index + 1);
      const expired = attributes.some((attribute) => /^max-age=0$/i.test(attribute));
      if (expired || value === "") cookies.delete(name);
      else cookies.set(name, value);
    }
    return response;
  };
  const trpc: BffClient = createBffClient({
    url: `${bffUrl}/trpc`,
    csrfToken: () => state.csrfToken,
    fetch: jarFetch,
    EventSource: EventSource as never,
    eventSourceOptions: { fetch: jarFetch },
  });
  return {
    trpc,
    cookies,
    state,
    fetch: jarFetch,
    /** Signs in with `apiKey` and keeps the session's CSRF token. */
    async signIn(apiKey: string) {
      const session = await trpc.auth.signIn.mutate({ apiKey });
      state.csrfToken = session.csrfToken;
      return session;
    },
  };
}

export type TestClient = ReturnType<typeof createTestClient>;
