import { randomUUID } from "node:crypto";
import { Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createJwtVerifier, createLocalRateLimiter, createRedisRateLimiter } from "@noa/access";
import { ApiKeyService, InferenceService, ModelService, Role, Scope, UsageService } from "@noa/proto";
import { RetryInfoSchema } from "@noa/proto/google/rpc";
import { Health } from "@noa/proto/grpc/health/v1";
import { Redis } from "ioredis";
import { SignJWT } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { connectErrorOf as errorOf } from "./__fixtures__/connect-error-of.js";
import { createTestAccess, withKey } from "./__fixtures__/create-test-access.js";
import { startTestServer, type TestServer } from "./__fixtures__/start-test-server.js";

// Issue 4's access acceptance through real servers and a real gRPC client.
const messages = [{ role: Role.USER, content: "Hello there" }];
const model = "llama-cpp/llama-2-tiny-random";

let redis: Redis;
const servers: TestServer[] = [];
beforeAll(() => {
  redis = new Redis("redis://127.0.0.1:6379", { lazyConnect: false });
});
afterAll(async () => {
  await redis.quit();
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function start(options: Parameters<typeof createTestAccess>[0] = {}) {
  const access = await createTestAccess(options);
  const server = await startTestServer({ access });
  servers.push(server);
  return server;
}

function clients(server: TestServer, auth?: Interceptor) {
  const transport: Transport = createGrpcTransport({
    baseUrl: server.baseUrl,
    interceptors: auth ? [auth] : [],
  });
  return {
    inference: createClient(InferenceService, transport),
    models: createClient(ModelService, transport),
    keys: createClient(ApiKeyService, transport),
    usage: createClient(UsageService, transport),
    health: createClient(Health, transport),
  };
}

async function newKey(
  server: TestServer,
  input: {
    tenant?: string;
    scopes?: Scope[];
    allowedModels?: string[];
    rateLimit?: { requestBurst?: number; requestsPerSecond?: number; tokensPerMinute?: number };
  },
) {
  const { keys } = clients(server, server.auth);
  const created = await keys.createApiKey({
    name: "test",
    tenant: "acme",
    scopes: [Scope.INFERENCE],
    ...input,
  });
  return { key: created.key, id: created.apiKey?.id ?? "", auth: withKey(created.key) };
}

describe("authentication", () => {
  it("refuses every service without a key, except health", async () => {
    const server = await start();
    const anonymous = clients(server);
    const calls = [
      anonymous.inference.complete({ model, messages, maxTokens: 2 }),
      anonymous.models.listModels({}),
      anonymous.keys.listApiKeys({}),
      anonymous.usage.getUsageSummary({}),
    ];
    for (const call of calls) {
      const error = await errorOf(call);
      expect(error.code).toBe(Code.Unauthenticated);
      expect(error.rawMessage).toMatch(/correlation id/);
    }
    expect((await anonymous.health.check({ service: "" })).status).toBe(1);
  });

  it("refuses a wrong key and accepts x-api-key as well as Bearer", async () => {
    const server = await start();
    const { key } = await newKey(server, { scopes: [Scope.MODELS_READ] });
    const wrong = `${key.slice(0, -4)}AAAA`;
    expect((await errorOf(clients(server, withKey(wrong)).models.listModels({}))).code).toBe(
      Code.Unauthenticated,
    );
    const viaHeader: Interceptor = (next) => (request) => {
      request.header.set("x-api-key", key);
      return next(request);
    };
    expect((await clients(server, viaHeader).models.listModels({})).models.length).toBeGreaterThan(0);
  });

  it("stops a revoked key at once on the replica that revoked it and within the cache TTL on others", async () => {
    const shared = await createTestAccess({ cacheTtlMs: 300 });
    const first = await startTestServer({ access: shared });
    const otherAccess = await createTestAccess({
      cacheTtlMs: 300,
      store: shared.store,
      adminKey: shared.adminKey,
    });
    const second = await startTestServer({ access: otherAccess });
    servers.push(first, second);
    const { id, auth } = await newKey(first, { scopes: [Scope.MODELS_READ] });
    await clients(second, auth).models.listModels({}); // now cached on the second replica
    await clients(first, first.auth).keys.revokeApiKey({ id });
    expect((await errorOf(clients(first, auth).models.listModels({}))).code).toBe(Code.Unauthenticated);
    await vi.waitFor(
      async () =>
        expect((await errorOf(clients(second, auth).models.listModels({}))).code).toBe(Code.Unauthenticated),
      { timeout: 5_000, interval: 50 },
    );
  });
});

describe("JWT", () => {
  const secret = "a-shared-secret-of-at-least-32-bytes!";
  const sign = (claims: Record<string, unknown>, audience = "noa") =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("https://idp.example")
      .setAudience(audience)
      .setSubject("user-42")
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(secret));

  it("accepts a token from the configured issuer, maps its claims, and refuses a wrong audience", async () => {
    const server = await start({
      jwt: createJwtVerifier({ issuer: "https://idp.example", audience: "noa", secret }),
    });
    const token = await sign({ tenant: "initech", scope: "inference models:read" });
    const answer = await clients(server, withKey(token)).inference.complete({
      model,
      messages,
      maxTokens: 2,
    });
    expect(answer.usage?.completionTokens).toBe(2);
    await server.access.ledger.flush();
    expect(server.access.usageRecords().at(-1)).toMatchObject({ tenant: "initech", apiKeyId: undefined });

    const wrongAudience = await sign({ tenant: "initech", scope: "inference" }, "someone-else");
    const refused = await errorOf(clients(server, withKey(wrongAudience)).models.listModels({}));
    expect(refused.code).toBe(Code.Unauthenticated);
    const noScope = await sign({ tenant: "initech", scope: "inference" });
    expect((await errorOf(clients(server, withKey(noScope)).models.listModels({}))).code).toBe(
      Code.PermissionDenied,
    );
  });
});

describe("model allow-lists", () => {
  it("lists only the models a key may use and refuses the others by id", async () => {
    const server = await start();
    const all = await newKey(server, { scopes: [Scope.MODELS_READ] });
    expect((await clients(server, all.auth).models.listModels({})).models.map((m) => m.id)).toContain(model);
    const openaiOnly = await newKey(server, { scopes: [Scope.MODELS_READ], allowedModels: ["openai/*"] });
    expect((await clients(server, openaiOnly.auth).models.listModels({})).models).toEqual([]);
    expect((await errorOf(clients(server, openaiOnly.auth).models.getModel({ id: model }))).code).toBe(
      Code.PermissionDenied,
    );
    const llamaOnly = await newKey(server, { scopes: [Scope.MODELS_READ], allowedModels: ["llama-cpp/*"] });
    expect((await clients(server, llamaOnly.auth).models.listModels({})).models.map((m) => m.id)).toEqual([
      model,
    ]);
  });
});

describe("authorization", () => {
  it("refuses a key without the scope, a model outside its allow-list, and key management without admin", async () => {
    const server = await start();
    const readOnly = await newKey(server, { scopes: [Scope.MODELS_READ] });
    const denied = await errorOf(
      clients(server, readOnly.auth).inference.complete({ model, messages, maxTokens: 2 }),
    );
    expect(denied.code).toBe(Code.PermissionDenied);
    expect(denied.rawMessage).toMatch(/inference/);

    const narrow = await newKey(server, { scopes: [Scope.INFERENCE], allowedModels: ["openai/gpt-4o-mini"] });
    const wrongModel = await errorOf(
      clients(server, narrow.auth).inference.complete({ model, messages, maxTokens: 2 }),
    );
    expect(wrongModel.code).toBe(Code.PermissionDenied);
    expect(wrongModel.rawMessage).toContain(model);

    const notAdmin = await errorOf(clients(server, narrow.auth).keys.listApiKeys({}));
    expect(notAdmin.code).toBe(Code.PermissionDenied);

    const modelsDenied = await errorOf(clients(server, narrow.auth).models.listModels({}));
    expect(modelsDenied.code).toBe(Code.PermissionDenied);
    expect(modelsDenied.rawMessage).toMatch(/models:read/);
  });
});

describe("keys minted by a limited admin", () => {
  it("never exceed their creator: its allow-list and limits are inherited and cannot be widened", async () => {
    const server = await start();
    const limited = await newKey(server, {
      tenant: "ops",
      scopes: [Scope.ADMIN],
      allowedModels: ["llama-cpp/*"],
      rateLimit: { requestBurst: 10, tokensPerMinute: 1_000 },
    });
    const { keys } = clients(server, limited.auth);
    const child = await keys.createApiKey({ name: "child", tenant: "acme", scopes: [Scope.INFERENCE] });
    expect(child.apiKey).toMatchObject({
      allowedModels: ["llama-cpp/*"],
      rateLimit: { requestBurst: 10, tokensPerMinute: 1_000 },
    });
    const refusals: Array<[Parameters<typeof keys.createApiKey>[0], RegExp]> = [
      [{ allowedModels: ["openai/gpt-4o-mini"] }, /^allowed_models may not go beyond/],
      [{ rateLimit: { requestBurst: 1_000 } }, /^rate_limit\.request_burst may not exceed/],
      [{ rateLimit: { tokensPerMinute: 0 } }, /^rate_limit\.tokens_per_minute may not exceed/],
    ];
    for (const [wider, message] of refusals) {
      const error = await errorOf(
        keys.createApiKey({ name: "wider", tenant: "acme", scopes: [Scope.ADMIN], ...wider }),
      );
      expect(error.code).toBe(Code.PermissionDenied);
      expect(error.rawMessage).toMatch(message);
    }
    // The child's inherited allow-list holds, and the refused keys were never made.
    const refused = await errorOf(
      clients(server, withKey(child.key)).inference.complete({
        model: "openai/gpt-4o-mini",
        messages,
        maxTokens: 1,
      }),
    );
    expect(refused.code).toBe(Code.PermissionDenied);
    const listed = await clients(server, server.auth).keys.listApiKeys({ tenant: "acme" });
    expect(listed.apiKeys.filter((key) => key.name === "wider")).toEqual([]);
  });

  it("that never expire are refused to a JWT, whose admin scope would otherwise outlive the token", async () => {
    const secret = "a-shared-secret-of-at-least-32-bytes!";
    const server = await start({
      jwt: createJwtVerifier({ issuer: "https://idp.example", audience: "noa", secret }),
    });
    const token = await new SignJWT({ tenant: "ops", scope: "admin" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("https://idp.example")
      .setAudience("noa")
      .setSubject("admin-1")
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(secret));
    const { keys } = clients(server, withKey(token));
    const error = await errorOf(keys.createApiKey({ name: "forever", tenant: "ops", scopes: [Scope.ADMIN] }));
    expect(error.code).toBe(Code.PermissionDenied);
    expect(error.rawMessage).toMatch(/may not create API keys/);
    // Reading and revoking keys stay open to it.
    expect((await keys.listApiKeys({})).apiKeys.length).toBeGreaterThan(0);
  });
});

describe("every call is rate limited", () => {
  it("takes one request from the key's bucket on every authenticated call, over gRPC, REST and /status", async () => {
    const server = await start();
    const key = async () =>
      newKey(server, {
        scopes: [Scope.INFERENCE, Scope.MODELS_READ],
        rateLimit: { requestBurst: 1, requestsPerSecond: 0.001 },
      });
    // A completion is admitted once, not twice: a bucket of 1 is enough for it.
    const completer = await key();
    const answer = await clients(server, completer.auth).inference.complete({
      model,
      messages,
      maxTokens: 1,
    });
    expect(answer.usage?.completionTokens).toBe(1);

    const calls: Array<(auth: Interceptor) => Promise<unknown>> = [
      (auth) => clients(server, auth).models.listModels({}),
      (auth) => clients(server, auth).usage.getUsageSummary({}),
      (auth) => clients(server, auth).keys.listApiKeys({}),
      (auth) => clients(server, auth).inference.complete({ model, messages, maxTokens: 1 }),
    ];
    for (const second of calls) {
      const { auth } = await key();
      await clients(server, auth).models.listModels({});
      const refused = await errorOf(second(auth));
      expect(refused.code).toBe(Code.ResourceExhausted);
      expect(refused.rawMessage).toMatch(/^request rate limit of this key reached; retry in \d+ s/);
      const [retry] = refused.findDetails(RetryInfoSchema);
      expect(Number(retry?.retryDelay?.seconds ?? 0)).toBeGreaterThan(0);
    }
    for (const path of ["/v1/models", "/status"]) {
      const { key: secret } = await key();
      const get = () => fetch(`${server.baseUrl}${path}`, { headers: { authorization: `Bearer ${secret}` } });
      expect((await get()).status).toBe(200);
      const refused = await get();
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    }
    // Probes need no key and take nothing.
    for (let i = 0; i < 3; i++) {
      expect((await clients(server).health.check({ service: "" })).status).toBe(1);
      expect((await fetch(`${server.baseUrl}/health`)).status).toBe(200);
    }
  });

  it("keeps the buckets of JWTs with the same subject in different tenants apart", async () => {
    const secret = "a-shared-secret-of-at-least-32-bytes!";
    const server = await start({
      jwt: createJwtVerifier({ issuer: "https://idp.example", audience: "noa", secret }),
      // Tokens carry no limits of their own: the server's defaults, here a bucket of 1.
      rateLimiter: createLocalRateLimiter({
        defaults: { requestBurst: 1, requestsPerSecond: 0.001, tokensPerMinute: 0 },
      }),
    });
    const tokenOf = (tenant: string) =>
      new SignJWT({ tenant, scope: "models:read" })
        .setProtectedHeader({ alg: "HS256" })
        .setIssuer("https://idp.example")
        .setAudience("noa")
        .setSubject("user-1")
        .setExpirationTime("5m")
        .sign(new TextEncoder().encode(secret));
    const initech = clients(server, withKey(await tokenOf("initech"))).models;
    const globex = clients(server, withKey(await tokenOf("globex"))).models;
    await initech.listModels({});
    await globex.listModels({});
    expect((await errorOf(initech.listModels({}))).code).toBe(Code.ResourceExhausted);
  });
});

describe("rate limits shared through Redis", () => {
  it("two replicas sharing Redis admit exactly the bucket's capacity between them", async () => {
    const prefix = `noa-test:${randomUUID()}:`;
    const limiter = () =>
      createRedisRateLimiter({
        redis,
        prefix,
        defaults: { requestBurst: 100, requestsPerSecond: 10, tokensPerMinute: 0 },
      });
    const first = await start({ rateLimiter: limiter() });
    const second = await startTestServer({
      access: await createTestAccess({
        rateLimiter: limiter(),
        store: first.access.store,
        adminKey: first.adminKey,
      }),
    });
    servers.push(second);
    const { auth } = await newKey(first, { rateLimit: { requestBurst: 5, requestsPerSecond: 0.001 } });
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        clients(i % 2 === 0 ? first : second, auth)
          .inference.complete({ model, messages, maxTokens: 1 })
          .then(
            () => "ok",
            (error: unknown) => ConnectError.from(error),
          ),
      ),
    );
    expect(results.filter((result) => result === "ok")).toHaveLength(5);
    const refused = results.filter((result): result is ConnectError => result instanceof ConnectError);
    expect(refused.every((error) => error.code === Code.ResourceExhausted)).toBe(true);
    const [retry] = refused[0]?.findDetails(RetryInfoSchema) ?? [];
    expect(Number(retry?.retryDelay?.seconds ?? 0)).toBeGreaterThan(0);
    await redis.del(...(await redis.keys(`${prefix}*`)));
  });

  it("charges the real token count to the key's token budget", async () => {
    const prefix = `noa-test:${randomUUID()}:`;
    const server = await start({
      rateLimiter: createRedisRateLimiter({
        redis,
        prefix,
        defaults: { requestBurst: 100, requestsPerSecond: 10, tokensPerMinute: 0 },
      }),
    });
    const { auth } = await newKey(server, { rateLimit: { tokensPerMinute: 20 } });
    const { inference } = clients(server, auth);
    const first = await inference.complete({ model, messages, maxTokens: 16 });
    expect(first.usage?.totalTokens).toBeGreaterThan(20);
    // The charge is made after the answer, off the request path.
    await vi.waitFor(async () => {
      const error = await errorOf(inference.complete({ model, messages, maxTokens: 1 }));
      expect(error.code).toBe(Code.ResourceExhausted);
      expect(error.rawMessage).toMatch(/token rate limit/);
    });
    await redis.del(...(await redis.keys(`${prefix}*`)));
  });
});

describe("usage ledger", () => {
  it("records a cancelled stream with the tokens delivered", async () => {
    const server = await start();
    const { auth, id } = await newKey(server, {});
    const abort = new AbortController();
    let received = 0;
    await (async () => {
      for await (const message of clients(server, auth).inference.streamComplete(
        { model, messages, maxTokens: 1_000 },
        { signal: abort.signal },
      )) {
        if (message.text && ++received === 3) abort.abort();
      }
    })().catch(() => {});
    await vi.waitFor(() =>
      expect(server.access.usageRecords().some((record) => record.apiKeyId === id)).toBe(true),
    );
    const record = server.access.usageRecords().find((candidate) => candidate.apiKeyId === id);
    expect(record?.status).toBe("cancelled");
    expect(record?.tenant).toBe("acme");
    // The prompt was tokenized before the first token: a cancelled call still costs it.
    expect(record?.promptTokens).toBeGreaterThan(0);
    // Generation stops within a token or two of the cancel.
    expect(record?.completionTokens).toBeGreaterThanOrEqual(3);
    expect(record?.completionTokens).toBeLessThanOrEqual(6);
  });

  it("reports usage per key, model and day for the caller's tenant only", async () => {
    const server = await start();
    const acme = await newKey(server, { tenant: "acme" });
    const globex = await newKey(server, { tenant: "globex" });
    const answer = await clients(server, acme.auth).inference.complete({ model, messages, maxTokens: 3 });
    await server.access.ledger.flush();

    const own = await clients(server, acme.auth).usage.getUsageSummary({});
    expect(own.rows).toHaveLength(1);
    expect(own.rows[0]).toMatchObject({ apiKeyId: acme.id, model, requests: 1n, completionTokens: 3n });
    expect(own.total?.promptTokens).toBe(BigInt(answer.usage?.promptTokens ?? -1));

    expect((await clients(server, globex.auth).usage.getUsageSummary({})).rows).toHaveLength(0);
    const other = await errorOf(clients(server, globex.auth).usage.getUsageSummary({ tenant: "acme" }));
    expect(other.code).toBe(Code.PermissionDenied);
    expect((await clients(server, server.auth).usage.getUsageSummary({ tenant: "acme" })).rows).toHaveLength(
      1,
    );
  });

  it("never writes a key's plaintext to the logs", async () => {
    const server = await start();
    const { key, auth } = await newKey(server, { scopes: [Scope.INFERENCE, Scope.MODELS_READ] });
    await clients(server, auth).models.listModels({});
    await errorOf(clients(server, withKey(`${key}x`)).models.listModels({}));
    const logs = JSON.stringify(server.logs);
    expect(logs).not.toContain(key.split("_").at(-1));
    expect(logs).not.toContain(server.adminKey.split("_").at(-1));
  });
});
