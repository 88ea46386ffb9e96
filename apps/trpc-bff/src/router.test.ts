import { createConnectTransport } from "@connectrpc/connect-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type BffStack, slowModel, startBffStack, tinyModel } from "./__fixtures__/start-bff-stack.js";
import { createContextFactory } from "./context.js";
import { createCaller } from "./router.js";
import { createRpcClients } from "./rpc-clients.js";
import { createMemorySessionRevocations } from "./session/memory-session-revocations.js";
import type { SessionRevocations } from "./session/session-revocations.js";
import { createSessionSealer } from "./session/session-sealer.js";

// The in-memory tier: procedures called through createCaller (no HTTP between the caller and the BFF),
// still against a real rpc-server, here over the Connect protocol.
let stack: BffStack;
beforeAll(async () => {
  stack = await startBffStack({ protocol: "connect" });
});
afterAll(async () => {
  await stack?.close();
});

const sealer = createSessionSealer({ secret: "caller-test-secret-0123456789abcdef" });

/** A caller as a browser with a session for `apiKey` (or none) would be, for an rpc-server at `rpcUrl`. */
async function callerFor(
  apiKey: string | undefined,
  rpcUrl = stack.rpcUrl,
  revocations: SessionRevocations = createMemorySessionRevocations(),
) {
  const createContext = createContextFactory({
    rpc: createRpcClients(createConnectTransport({ baseUrl: rpcUrl, httpVersion: "1.1" })),
    sealer,
    revocations,
    logger: pino({ level: "silent" }),
    secureCookies: false,
    allowedOrigins: undefined,
    rpcTimeoutMs: 5_000,
  });
  const sealed = apiKey ? await sealer.seal({ apiKey, keyPrefix: "noa_test" }) : undefined;
  const cookies: Array<string | undefined> = [];
  const context = await createContext({
    headers: {
      host: "bff.test",
      "x-csrf-token": "sign-in",
      ...(sealed ? { cookie: `noa_session=${sealed.token}`, "x-csrf-token": sealed.session.csrfToken } : {}),
    },
    setSessionCookie: (token) => cookies.push(token),
  });
  return { caller: createCaller(context), context, cookies };
}

async function failure(call: Promise<unknown>) {
  return call.then(
    () => {
      throw new Error("the call succeeded");
    },
    (error: { code: string; message: string; correlationId?: string; retryAfterMs?: number }) => error,
  );
}

describe("createCaller", () => {
  it("lists models and completes with the session's key", async () => {
    const { caller } = await callerFor(stack.userKey);
    const models = await caller.models.list();
    expect(models.find((model) => model.id === tinyModel)?.provider).toBe("llama-cpp");
    const answer = await caller.chat.complete({
      model: tinyModel,
      messages: [{ role: "user", content: "Hi" }],
      maxTokens: 3,
      temperature: 0,
    });
    expect(answer.usage.completionTokens).toBe(3);
  });

  it("signs in with a key that lacks models:read (the key is still the caller's), and sets the cookie", async () => {
    const { key } = await stack.apiKeys.create({
      name: "inference only",
      tenant: "web",
      scopes: ["inference"],
    });
    const { caller, cookies } = await callerFor(undefined);
    const session = await caller.auth.signIn({ apiKey: key });
    expect(session.signedIn).toBe(true);
    expect(cookies).toHaveLength(1);
    expect(await sealer.open(cookies[0])).toMatchObject({ apiKey: key, csrfToken: session.csrfToken });
  });

  it("maps PERMISSION_DENIED to FORBIDDEN with rpc-server's message", async () => {
    const { key } = await stack.apiKeys.create({
      name: "models only",
      tenant: "web",
      scopes: ["models:read"],
    });
    const { caller } = await callerFor(key);
    const error = await failure(
      caller.chat.complete({ model: tinyModel, messages: [{ role: "user", content: "Hi" }], maxTokens: 2 }),
    );
    expect(error.code).toBe("FORBIDDEN");
    expect(error.message).toMatch(/inference/);
  });

  it("maps a rate limit to TOO_MANY_REQUESTS with the retry delay", async () => {
    const { key } = await stack.apiKeys.create({
      name: "one request",
      tenant: "web",
      scopes: ["inference"],
      limits: { requestBurst: 1, requestsPerSecond: 0.01 },
    });
    const { caller, context } = await callerFor(key);
    const request = { model: tinyModel, messages: [{ role: "user" as const, content: "Hi" }], maxTokens: 2 };
    await caller.chat.complete(request);
    const limited = await failure(caller.chat.complete(request));
    expect(limited.code).toBe("TOO_MANY_REQUESTS");
    expect(limited.retryAfterMs).toBeGreaterThan(1_000);
    expect(limited.message).toContain(`correlation id: ${context.correlationId}`);
  });

  it("says NOA could not be reached when rpc-server is down, without the transport's text", async () => {
    const { caller, context } = await callerFor(stack.userKey, "http://127.0.0.1:1");
    const error = await failure(caller.models.list());
    expect(error.code).toBe("BAD_GATEWAY");
    expect(error.message).toBe(
      `NOA could not be reached; try again shortly (correlation id: ${context.correlationId})`,
    );
  });

  it("stops the generation when the subscription's signal aborts", async () => {
    const { context } = await callerFor(stack.userKey);
    const before = stack.loopback.requests.length;
    const abort = new AbortController();
    const caller = createCaller(context, { signal: abort.signal });
    const events = await caller.chat.stream({
      model: slowModel,
      messages: [{ role: "user", content: "A story" }],
      maxTokens: 30,
    });
    const seen: string[] = [];
    for await (const event of events) {
      if (event.type === "delta") seen.push(event.text);
      if (seen.length === 2) abort.abort();
    }
    expect(seen).toEqual(["The", " sea"]);
    await vi.waitFor(() => expect(stack.loopback.requests[before]?.closedByClient).toBe(true));
  });

  it("refuses a mutation whose CSRF token does not match the session", async () => {
    const { context } = await callerFor(stack.userKey);
    const caller = createCaller({ ...context, headers: { ...context.headers, "x-csrf-token": "forged" } });
    const error = await failure(caller.auth.signOut());
    expect(error.code).toBe("FORBIDDEN");
  });

  it("refuses a session it cannot check against sign-outs (the store is down) rather than honour it", async () => {
    const down: SessionRevocations = {
      revoke: () => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:6379")),
      isRevoked: () => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:6379")),
    };
    const error = await failure(callerFor(stack.userKey, stack.rpcUrl, down));
    expect(error.code).toBe("SERVICE_UNAVAILABLE");
    expect(error.message).toMatch(
      /^sessions cannot be checked right now; try again shortly \(correlation id: .+\)$/,
    );
    expect(error.message).not.toContain("ECONNREFUSED");
  });
});
