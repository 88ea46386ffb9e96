import { randomUUID } from "node:crypto";
import { TRPCClientError } from "@trpc/client";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createTestClient, type TestClient } from "./__fixtures__/create-test-client.js";
import { type BffStack, slowModel, startBffStack, tinyModel } from "./__fixtures__/start-bff-stack.js";
import { describeBffError, type WebStreamEvent } from "./client/create-bff-client.js";
import { createRedisSessionRevocations } from "./session/redis-session-revocations.js";

// The acceptance's integration tier: a real @trpc/client over HTTP (batched) and SSE (subscriptions),
// against the BFF in front of a real rpc-server with the real tiny llama model and the real OpenAI
// provider (talking to a slow loopback server), over gRPC.
let stack: BffStack;
let user: TestClient;
beforeAll(async () => {
  stack = await startBffStack();
  user = createTestClient(stack.bffUrl);
  await user.signIn(stack.userKey);
});
afterAll(async () => {
  await stack?.close();
});

async function failure(call: Promise<unknown>) {
  const error = await call.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(TRPCClientError);
  return describeBffError(error);
}

/** Someone else's client holding a copy of `client`'s session cookie and CSRF token, calling `bffUrl`. */
function copyOf(client: TestClient, bffUrl: string): TestClient {
  const copy = createTestClient(bffUrl);
  for (const [name, value] of client.cookies) copy.cookies.set(name, value);
  copy.state.csrfToken = client.state.csrfToken;
  return copy;
}

/** Subscribes to chat.stream and collects its events until it ends (or `stopAfterDeltas` deltas). */
function streamChat(
  client: TestClient,
  input: Parameters<TestClient["trpc"]["chat"]["stream"]["subscribe"]>[0],
  stopAfterDeltas = Number.POSITIVE_INFINITY,
) {
  const events: WebStreamEvent[] = [];
  return new Promise<{ events: WebStreamEvent[]; stopped: boolean }>((resolve, reject) => {
    let deltas = 0;
    const subscription = client.trpc.chat.stream.subscribe(input, {
      onData(event) {
        events.push(event);
        if (event.type === "delta" && ++deltas === stopAfterDeltas) {
          resolve({ events, stopped: true });
          subscription.unsubscribe();
        }
      },
      onError: reject,
      onComplete: () => resolve({ events, stopped: false }),
    });
  });
}

describe("sessions", () => {
  it("refuses calls before sign-in, and a key rpc-server does not know, with the correlation id", async () => {
    const anonymous = createTestClient(stack.bffUrl);
    const before = await failure(anonymous.trpc.models.list.query());
    expect(before.code).toBe("UNAUTHORIZED");
    expect(before.message).toMatch(/sign in/);

    const wrong = await failure(anonymous.signIn("noa_abcdefghij_0123456789abcdef0123456789abcdef"));
    expect(wrong.code).toBe("UNAUTHORIZED");
    expect(wrong.correlationId).toMatch(/\S/);
    expect(wrong.message).toContain(`correlation id: ${wrong.correlationId}`);
    expect(anonymous.cookies.size).toBe(0);
  });

  it("refuses a malformed key in words a person at the form understands, without calling rpc-server", async () => {
    const anonymous = createTestClient(stack.bffUrl);
    stack.rpcCalls.length = 0;
    for (const pasted of ["hello world", `"${stack.userKey}"`, `${stack.userKey} x`]) {
      const refused = await failure(anonymous.signIn(pasted));
      expect(refused.code).toBe("UNAUTHORIZED");
      expect(refused.message).toBe(
        `that is not an API key: keys have no spaces or quotes (they look like noa_…); paste the whole key (correlation id: ${refused.correlationId})`,
      );
    }
    expect(stack.rpcCalls).toEqual([]);
    expect(anonymous.cookies.size).toBe(0);
  });

  it("refuses a key with characters no key has (beyond ASCII, control) as malformed, not as a server error", async () => {
    const anonymous = createTestClient(stack.bffUrl);
    stack.rpcCalls.length = 0;
    const from = stack.bffLogs.length;
    for (const pasted of ["noa_é€abc", `${stack.userKey}€`, "noa_\u0000abc"]) {
      const refused = await failure(anonymous.signIn(pasted));
      expect(refused.code).toBe("UNAUTHORIZED");
      expect(refused.message).toBe(
        `that is not an API key: keys have no spaces or quotes (they look like noa_…); paste the whole key (correlation id: ${refused.correlationId})`,
      );
    }
    expect(stack.rpcCalls).toEqual([]);
    expect(stack.bffLogs.slice(from).filter((line) => Number(line.level) >= 50)).toEqual([]);
    expect(anonymous.cookies.size).toBe(0);
  });

  it("exchanges the key for an httpOnly, SameSite=Strict cookie that does not reveal it", async () => {
    const client = createTestClient(stack.bffUrl);
    const response = await client.fetch(`${stack.bffUrl}/trpc/auth.signIn`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrf-token": "sign-in" },
      body: JSON.stringify({ apiKey: stack.userKey }),
    });
    expect(response.status).toBe(200);
    const [cookie] = response.headers.getSetCookie();
    expect(cookie).toMatch(/^noa_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    const secret = stack.userKey.split("_").at(-1) ?? "";
    expect(cookie).not.toContain(secret);
    const body = JSON.stringify(await response.json());
    expect(body).not.toContain(secret);

    const session = await client.trpc.auth.session.query();
    expect(session.signedIn).toBe(true);
    expect(stack.userKey.startsWith(session.keyPrefix ?? "?")).toBe(true);
  });

  it("calls rpc-server with the caller's own key, the request's correlation id and the caller's trace", async () => {
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    stack.rpcCalls.length = 0;
    const response = await user.fetch(`${stack.bffUrl}/trpc/models.list`, {
      headers: { traceparent, "x-correlation-id": "web-req-42" },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-correlation-id")).toBe("web-req-42");
    expect(stack.rpcCalls).toEqual([
      {
        method: "ListModels",
        authorization: `Bearer ${stack.userKey}`,
        correlationId: "web-req-42",
        // The same trace: with tracing on, the BFF's own span id; off, the caller's header as it came.
        traceparent: expect.stringMatching(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/),
      },
    ]);
    expect(JSON.stringify(stack.rpcCalls)).not.toContain(stack.adminKey);
  });

  it("refuses mutations without the session's CSRF token or from another origin", async () => {
    const client = createTestClient(stack.bffUrl);
    await client.signIn(stack.userKey);
    const request = { model: tinyModel, messages: [{ role: "user" as const, content: "Hi" }], maxTokens: 2 };

    client.state.csrfToken = "not-the-token";
    const forged = await failure(client.trpc.chat.complete.mutate(request));
    expect(forged.code).toBe("FORBIDDEN");
    expect(forged.message).toMatch(/x-csrf-token/);

    const crossSite = createTestClient(stack.bffUrl, { origin: "https://evil.example" });
    const refused = await failure(crossSite.signIn(stack.userKey));
    expect(refused.code).toBe("FORBIDDEN");
    expect(refused.message).toMatch(/evil\.example/);

    const noHeader = await client.fetch(`${stack.bffUrl}/trpc/auth.signOut`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(noHeader.status).toBe(403);
    expect((await client.trpc.auth.session.query()).signedIn).toBe(true);
  });

  it("signs out: the cookie is cleared and calls are refused again", async () => {
    const client = createTestClient(stack.bffUrl);
    await client.signIn(stack.userKey);
    await client.trpc.auth.signOut.mutate();
    expect(client.cookies.size).toBe(0);
    expect((await client.trpc.auth.session.query()).signedIn).toBe(false);
    expect((await failure(client.trpc.models.list.query())).code).toBe("UNAUTHORIZED");
  });

  it("signing out ends the session on the server: a copy of the cookie stops working too", async () => {
    const client = createTestClient(stack.bffUrl);
    await client.signIn(stack.userKey);
    const copy = copyOf(client, stack.bffUrl);
    expect((await copy.trpc.auth.session.query()).signedIn).toBe(true);

    await client.trpc.auth.signOut.mutate();
    expect((await copy.trpc.auth.session.query()).signedIn).toBe(false);
    expect((await failure(copy.trpc.models.list.query())).code).toBe("UNAUTHORIZED");
    const request = { model: tinyModel, messages: [{ role: "user" as const, content: "Hi" }], maxTokens: 2 };
    expect((await failure(copy.trpc.chat.complete.mutate(request))).code).toBe("UNAUTHORIZED");
  });

  it("a sign-out on one replica holds on another when they share Redis", async () => {
    const redis = new Redis("redis://127.0.0.1:6379", { maxRetriesPerRequest: 1 });
    const prefix = `noa-test:bff-revoked:${randomUUID()}:`;
    try {
      const sessionRevocations = createRedisSessionRevocations({ redis, prefix });
      const first = await stack.startReplica({ sessionRevocations });
      const second = await stack.startReplica({ sessionRevocations });
      const client = createTestClient(first);
      await client.signIn(stack.userKey);
      const copy = copyOf(client, second);
      expect((await copy.trpc.models.list.query()).length).toBeGreaterThan(0);

      await client.trpc.auth.signOut.mutate();
      expect((await failure(copy.trpc.models.list.query())).code).toBe("UNAUTHORIZED");
    } finally {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    }
  });
});

describe("models", () => {
  it("lists the models with provider and capabilities, and gets one", async () => {
    const models = await user.trpc.models.list.query();
    expect(models.map((model) => model.id)).toContain(tinyModel);
    const tiny = models.find((model) => model.id === tinyModel);
    expect(tiny).toMatchObject({
      provider: "llama-cpp",
      capabilities: expect.arrayContaining(["chat", "streaming"]),
    });
    expect(await user.trpc.models.get.query({ id: tinyModel })).toEqual(tiny);
  });

  it("maps rpc-server's NOT_FOUND with its message and correlation id", async () => {
    const missing = await failure(user.trpc.models.get.query({ id: "llama-cpp/no-such-model" }));
    expect(missing.code).toBe("NOT_FOUND");
    expect(missing.message).toMatch(/no-such-model/);
    const logged = stack.rpcLogs.find((line) => line.correlationId === missing.correlationId);
    expect(logged).toBeDefined();
  });
});

describe("chat", () => {
  it("answers chat.complete with text, usage and cost", async () => {
    const answer = await user.trpc.chat.complete.mutate({
      model: tinyModel,
      messages: [{ role: "user", content: "Hello" }],
      maxTokens: 6,
      temperature: 0,
    });
    expect(answer.text.length).toBeGreaterThan(0);
    expect(answer).toMatchObject({
      finishReason: "length",
      usage: { completionTokens: 6 },
      provider: "llama-cpp",
      model: tinyModel,
      costUsd: 0,
    });
  });

  it("rejects bad input field by field before calling rpc-server", async () => {
    stack.rpcCalls.length = 0;
    const bad = await failure(
      user.trpc.chat.complete.mutate({
        model: tinyModel,
        messages: [],
        temperature: 3,
        maxTokens: 0,
      }),
    );
    expect(bad.code).toBe("BAD_REQUEST");
    expect(bad.fieldErrors.map((field) => field.path).sort()).toEqual([
      "maxTokens",
      "messages",
      "temperature",
    ]);
    expect(bad.fieldErrors.find((field) => field.path === "temperature")?.message).toBe(
      "must be between 0 and 2",
    );
    expect(bad.correlationId).toMatch(/\S/);
    expect(stack.rpcCalls).toEqual([]);
  });

  it("rejects an empty message as rpc-server would, naming messages.0.content, before calling it", async () => {
    stack.rpcCalls.length = 0;
    const bad = await failure(
      user.trpc.chat.complete.mutate({ model: tinyModel, messages: [{ role: "user", content: "" }] }),
    );
    expect(bad.code).toBe("BAD_REQUEST");
    expect(bad.fieldErrors).toEqual([{ path: "messages.0.content", message: "must not be empty" }]);
    expect(stack.rpcCalls).toEqual([]);
  });

  it("streams the answer over SSE token by token, then usage and cost", async () => {
    const { events, stopped } = await streamChat(user, {
      model: slowModel,
      messages: [{ role: "user", content: "Tell me about the sea" }],
      maxTokens: 8,
    });
    expect(stopped).toBe(false);
    const deltas = events.filter((event) => event.type === "delta");
    expect(deltas.length).toBe(8);
    expect(deltas.map((event) => event.text).join("")).toBe("The sea is vast and deep and blue,");
    expect(events.at(-1)).toMatchObject({
      type: "done",
      finishReason: "length",
      usage: { completionTokens: 8 },
      provider: "openai",
      model: slowModel,
    });
  });

  it("streams the real local model too", async () => {
    const { events } = await streamChat(user, {
      model: tinyModel,
      messages: [{ role: "user", content: "Hello" }],
      maxTokens: 10,
      temperature: 0,
    });
    expect(events.filter((event) => event.type === "delta").length).toBeGreaterThan(1);
    expect(events.at(-1)).toMatchObject({
      type: "done",
      usage: { completionTokens: 10 },
      provider: "llama-cpp",
    });
  });

  it("unsubscribing cancels the RPC and rpc-server stops the generation", async () => {
    const before = stack.loopback.requests.length;
    const { stopped, events } = await streamChat(
      user,
      { model: slowModel, messages: [{ role: "user", content: "Tell me a long story" }], maxTokens: 30 },
      2,
    );
    expect(events).toEqual([
      { type: "delta", text: "The" },
      { type: "delta", text: " sea" },
    ]);
    expect(stopped).toBe(true);
    // The upstream generation was closed by rpc-server, before its 30 words were all sent…
    await vi.waitFor(() => expect(stack.loopback.requests[before]?.closedByClient).toBe(true));
    expect(stack.loopback.requests[before]?.chunksSent).toBeLessThan(30);
    // …and the usage ledger says the call was cancelled.
    await vi.waitFor(() =>
      expect(stack.usageRecords().filter((record) => record.status === "cancelled").length).toBeGreaterThan(
        0,
      ),
    );
  });

  it("ends a failed stream with an error event carrying rpc-server's code, message and correlation id", async () => {
    const { events } = await streamChat(user, {
      model: "llama-cpp/no-such-model",
      messages: [{ role: "user", content: "Hi" }],
    });
    expect(events).toEqual([
      {
        type: "error",
        code: "NOT_FOUND",
        message: expect.stringMatching(/no-such-model.*correlation id/),
        correlationId: expect.any(String),
        retryAfterMs: null,
      },
    ]);
  });
});

describe("usage", () => {
  it("summarises the tenant's requests", async () => {
    const summary = await user.trpc.usage.summary.query({});
    expect(summary.total.requests).toBeGreaterThan(0);
    expect(typeof summary.total.promptTokens).toBe("number");
  });
});

/** The BFF's log lines about the request with `correlationId`. */
const linesOf = (correlationId: string) =>
  stack.bffLogs.filter((line) => line.correlationId === correlationId);

/** A procedure call's one log line, as an operator searches for it. */
const callLine = (fields: { correlationId: string; procedure: string; type: string; code: string }) => ({
  level: 30,
  time: expect.any(Number),
  service: "trpc-bff",
  env: "test",
  msg: "trpc",
  ...fields,
  ms: expect.any(Number),
});

/**
 * A subscription (chat.stream unless told) as raw SSE with our own correlation id, read to its end;
 * `stopAfterDeltas` closes the connection (as a closed tab does) once that many deltas came. It sends
 * `csrfToken` (default: the client's) as the typed client does, in its connection parameters.
 */
async function streamRaw(
  client: TestClient,
  correlationId: string,
  input: unknown,
  {
    stopAfterDeltas = Number.POSITIVE_INFINITY,
    procedure = "chat.stream",
    csrfToken = client.state.csrfToken,
  } = {},
): Promise<string> {
  const abort = new AbortController();
  const connectionParams = csrfToken
    ? `&connectionParams=${encodeURIComponent(JSON.stringify({ csrfToken }))}`
    : "";
  const response = await client.fetch(
    `${stack.bffUrl}/trpc/${procedure}?input=${encodeURIComponent(JSON.stringify(input))}${connectionParams}`,
    { headers: { accept: "text/event-stream", "x-correlation-id": correlationId }, signal: abort.signal },
  );
  expect(response.headers.get("x-correlation-id")).toBe(correlationId);
  let text = "";
  const decoder = new TextDecoder();
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    text += decoder.decode(chunk.value, { stream: true });
    if ((text.match(/"type":"delta"/g)?.length ?? 0) >= stopAfterDeltas) {
      abort.abort();
      break;
    }
  }
  return text;
}

describe("chat.stream and CSRF", () => {
  it("starts no generation for a subscription without the session's CSRF token, only with it", async () => {
    const request = { model: slowModel, messages: [{ role: "user", content: "Hi" }], maxTokens: 2 };
    stack.rpcCalls.length = 0;
    const loopbackBefore = stack.loopback.requests.length;
    for (const csrfToken of [null, "not-the-token"]) {
      const refused = await streamRaw(user, `csrf-stream-${csrfToken}`, request, { csrfToken });
      expect(refused).toContain("FORBIDDEN");
      expect(refused).not.toContain('"type":"delta"');
    }
    expect(stack.rpcCalls).toEqual([]);
    expect(stack.loopback.requests.length).toBe(loopbackBefore);

    const allowed = await streamRaw(user, "csrf-stream-ok", request);
    expect(allowed).toContain('"type":"done"');
  });
});

describe("one log line per procedure call", () => {
  it("logs a query, a failed query and each call of a batch with correlation id, type, outcome and duration", async () => {
    const listed = await user.fetch(`${stack.bffUrl}/trpc/models.list`, {
      headers: { "x-correlation-id": "log-ok-1" },
    });
    expect(listed.status).toBe(200);
    expect(linesOf("log-ok-1")).toEqual([
      callLine({ correlationId: "log-ok-1", procedure: "models.list", type: "query", code: "ok" }),
    ]);

    const input = encodeURIComponent(JSON.stringify({ id: "llama-cpp/no-such-model" }));
    const missing = await user.fetch(`${stack.bffUrl}/trpc/models.get?input=${input}`, {
      headers: { "x-correlation-id": "log-missing-1" },
    });
    expect(missing.status).toBe(404);
    expect(linesOf("log-missing-1")).toEqual([
      callLine({ correlationId: "log-missing-1", procedure: "models.get", type: "query", code: "NOT_FOUND" }),
    ]);

    const batch = await user.fetch(`${stack.bffUrl}/trpc/models.list,auth.session?batch=1&input={}`, {
      headers: { "x-correlation-id": "log-batch-1" },
    });
    expect(batch.status).toBe(200);
    expect(linesOf("log-batch-1")).toEqual([
      callLine({ correlationId: "log-batch-1", procedure: "auth.session", type: "query", code: "ok" }),
      callLine({ correlationId: "log-batch-1", procedure: "models.list", type: "query", code: "ok" }),
    ]);
  });

  it("logs a mutation refused by validation once, with its code", async () => {
    const response = await user.fetch(`${stack.bffUrl}/trpc/chat.complete`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-csrf-token": user.state.csrfToken ?? "",
        "x-correlation-id": "log-mutation-1",
      },
      body: JSON.stringify({ model: tinyModel, messages: [] }),
    });
    expect(response.status).toBe(400);
    expect(linesOf("log-mutation-1")).toEqual([
      callLine({
        correlationId: "log-mutation-1",
        procedure: "chat.complete",
        type: "mutation",
        code: "BAD_REQUEST",
      }),
    ]);
  });

  it("logs chat.stream once when it ends: ok, the code of its error event, or cancelled by the client", async () => {
    const done = await streamRaw(user, "log-stream-ok", {
      model: tinyModel,
      messages: [{ role: "user", content: "Hello" }],
      maxTokens: 3,
    });
    expect(done).toContain('"type":"done"');
    const failed = await streamRaw(user, "log-stream-error", {
      model: "llama-cpp/no-such-model",
      messages: [{ role: "user", content: "Hi" }],
    });
    expect(failed).toContain('"type":"error"');
    await streamRaw(
      user,
      "log-stream-cancelled",
      { model: slowModel, messages: [{ role: "user", content: "Tell me a long story" }], maxTokens: 30 },
      { stopAfterDeltas: 2 },
    );
    const stream = { procedure: "chat.stream", type: "subscription" };
    await vi.waitFor(() => {
      expect(linesOf("log-stream-ok")).toEqual([
        callLine({ correlationId: "log-stream-ok", ...stream, code: "ok" }),
      ]);
      expect(linesOf("log-stream-error")).toEqual([
        callLine({ correlationId: "log-stream-error", ...stream, code: "NOT_FOUND" }),
      ]);
      expect(linesOf("log-stream-cancelled")).toEqual([
        callLine({ correlationId: "log-stream-cancelled", ...stream, code: "CLIENT_CLOSED_REQUEST" }),
      ]);
    });
  });

  it("logs a failed subscription once, not twice: refused before it starts, or failing as it runs", async () => {
    const anonymous = createTestClient(stack.bffUrl);
    const refused = await streamRaw(anonymous, "log-sub-refused", {
      model: tinyModel,
      messages: [{ role: "user", content: "Hi" }],
    });
    expect(refused).toContain("UNAUTHORIZED");
    expect(linesOf("log-sub-refused")).toEqual([
      callLine({
        correlationId: "log-sub-refused",
        procedure: "chat.stream",
        type: "subscription",
        code: "UNAUTHORIZED",
      }),
    ]);

    // This rpc-server serves no JobService: WatchJob fails once the stream has begun.
    const failed = await streamRaw(user, "log-sub-failed", { id: "job-1" }, { procedure: "jobs.watch" });
    expect(failed).toContain("serialized-error");
    expect(linesOf("log-sub-failed")).toEqual([
      callLine({
        correlationId: "log-sub-failed",
        procedure: "jobs.watch",
        type: "subscription",
        code: "NOT_IMPLEMENTED",
      }),
    ]);
  });

  it("puts the correlation id on every line, also when tRPC refuses the request before any procedure runs", async () => {
    const from = stack.bffLogs.length;
    const response = await fetch(`${stack.bffUrl}/trpc/auth.signIn`, {
      method: "POST",
      headers: { "content-type": "text/plain", "x-csrf-token": "sign-in", "x-correlation-id": "log-media-1" },
      body: JSON.stringify({ apiKey: stack.userKey }),
    });
    expect(response.status).toBe(415);
    expect(response.headers.get("x-correlation-id")).toBe("log-media-1");
    expect(stack.bffLogs.slice(from)).toEqual([
      callLine({
        correlationId: "log-media-1",
        procedure: "auth.signIn",
        type: "unknown",
        code: "UNSUPPORTED_MEDIA_TYPE",
      }),
    ]);
  });
});

describe("malformed requests", () => {
  it("answers a body that is not JSON with 400, saying so with the correlation id, not the parser's text", async () => {
    const response = await fetch(`${stack.bffUrl}/trpc/auth.signIn`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-csrf-token": "sign-in",
        "x-correlation-id": "bad-json-1",
      },
      body: "not json",
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { message: string; data: Record<string, unknown> } };
    expect(body.error.message).toBe("the request body is not valid JSON (correlation id: bad-json-1)");
    expect(body.error.data).toMatchObject({ code: "BAD_REQUEST", correlationId: "bad-json-1" });
    expect(JSON.stringify(body)).not.toMatch(/Unexpected token|SyntaxError/);
  });

  it("refuses a body larger than BFF_MAX_BODY_BYTES (default 1 MiB) with 413, before reading it all", async () => {
    const response = await fetch(`${stack.bffUrl}/trpc/auth.signIn`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrf-token": "sign-in", "x-correlation-id": "big-1" },
      body: JSON.stringify({ apiKey: "x".repeat(2 * 1024 * 1024) }),
    });
    expect(response.status).toBe(413);
    const body = (await response.json()) as { error: { message: string } };
    expect(body.error.message).toBe(
      "the request body is larger than this server takes (BFF_MAX_BODY_BYTES) (correlation id: big-1)",
    );
  });

  it("says the same of an input query parameter that is not JSON", async () => {
    const response = await user.fetch(`${stack.bffUrl}/trpc/models.get?input=%7Bnope`, {
      headers: { "x-correlation-id": "bad-json-2" },
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { message: string } };
    expect(body.error.message).toBe(
      "the input query parameter is not valid JSON (correlation id: bad-json-2)",
    );
  });
});
