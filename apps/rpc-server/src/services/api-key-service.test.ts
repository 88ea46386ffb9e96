import { create } from "@bufbuild/protobuf";
import { TimestampSchema, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { createAuthenticator, createJwtVerifier, type JwtVerifier } from "@noa/access";
import { createPrismaApiKeyStore } from "@noa/db";
import { createTestDatabase } from "@noa/db/testing";
import { ApiKeyService, ModelService, Scope } from "@noa/proto";
import { SignJWT } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { connectErrorOf as errorOf } from "../__fixtures__/connect-error-of.js";
import { createTestAccess, withKey } from "../__fixtures__/create-test-access.js";
import { startTestServer, type TestServer } from "../__fixtures__/start-test-server.js";

// Key expiry through a real server, real clients and the Prisma store on a fresh PostgreSQL database per test.
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const secret = "a-shared-secret-of-at-least-32-bytes!";

/**
 * A server whose authenticator reads the clock `clock.offsetMs` ahead of the real one (main.ts's, but for
 * `now`): moving it expires keys without waiting. Its key cache trusts a key for 10 minutes.
 */
async function start(options: { jwt?: JwtVerifier } = {}) {
  const database = await createTestDatabase();
  cleanups.push(() => database.close());
  const testAccess = await createTestAccess({ store: createPrismaApiKeyStore(database.prisma), ...options });
  const clock = { offsetMs: 0 };
  const authenticator = createAuthenticator({
    store: testAccess.store,
    jwt: options.jwt,
    cacheTtlMs: 600_000,
    now: () => Date.now() + clock.offsetMs,
  });
  const server = await startTestServer({
    access: { ...testAccess, access: { ...testAccess.access, authenticator } },
  });
  cleanups.push(() => server.close());
  return { server, clock };
}

function clients(transport: Transport) {
  return { keys: createClient(ApiKeyService, transport), models: createClient(ModelService, transport) };
}

const grpc = (server: TestServer, auth: Interceptor) =>
  clients(createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [auth] }));
const connect = (server: TestServer, auth: Interceptor) =>
  clients(createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1", interceptors: [auth] }));

/** A time `ms` from now, to the millisecond (what PostgreSQL keeps). */
const fromNow = (ms: number) => new Date(Date.now() + ms);

describe("ApiKeyService expire_time", () => {
  it("creates a key with an expiry, and returns it on creation and in the list, from PostgreSQL", async () => {
    const { server } = await start();
    const { keys } = grpc(server, server.auth);
    const expiresAt = fromNow(3_600_000);
    const created = await keys.createApiKey({
      name: "temporary",
      tenant: "acme",
      scopes: [Scope.INFERENCE],
      expireTime: timestampFromDate(expiresAt),
    });
    expect(created.apiKey?.expireTime).toEqual(timestampFromDate(expiresAt));
    const lasting = await keys.createApiKey({ name: "lasting", tenant: "acme", scopes: [Scope.INFERENCE] });
    expect(lasting.apiKey?.expireTime).toBeUndefined();
    const listed = await keys.listApiKeys({ tenant: "acme" });
    expect(listed.apiKeys.map((key) => [key.name, key.expireTime])).toEqual([
      ["lasting", undefined],
      ["temporary", timestampFromDate(expiresAt)],
    ]);
  });

  it("refuses an expiry in the past or no valid Timestamp with INVALID_ARGUMENT saying what to fix", async () => {
    const { server } = await start();
    const { keys } = grpc(server, server.auth);
    const input = { name: "bad", tenant: "acme", scopes: [Scope.INFERENCE] };
    const past = await errorOf(
      keys.createApiKey({ ...input, expireTime: timestampFromDate(new Date("2020-01-01T00:00:00Z")) }),
    );
    expect(past.code).toBe(Code.InvalidArgument);
    expect(past.rawMessage).toMatch(
      /^expire_time must be in the future: got 2020-01-01T00:00:00\.000Z, and it is now \S+; leave it unset for a key that never expires/,
    );
    // A binary message may carry any seconds and nanos; JSON's RFC 3339 parser refuses these itself.
    for (const expireTime of [
      create(TimestampSchema, { seconds: BigInt(Math.floor(Date.now() / 1000) + 3600), nanos: -1 }),
      create(TimestampSchema, { seconds: 253_402_300_800n }),
    ]) {
      const malformed = await errorOf(keys.createApiKey({ ...input, expireTime }));
      expect(malformed.code).toBe(Code.InvalidArgument);
      expect(malformed.rawMessage).toMatch(
        /^expire_time is not a valid google\.protobuf\.Timestamp .*: send a time in the future/,
      );
    }
    const json = await fetch(`${server.baseUrl}/noa.inference.v1.ApiKeyService/CreateApiKey`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${server.adminKey}` },
      body: JSON.stringify({ ...input, scopes: ["SCOPE_INFERENCE"], expireTime: "next tuesday" }),
    });
    expect(json.status).toBe(400);
    // Connect's JSON decoding refuses it before the service, naming the format it expects.
    expect(await json.json()).toMatchObject({
      code: "invalid_argument",
      message: expect.stringMatching(/Timestamp from JSON: invalid RFC 3339 string/),
    });
    expect((await keys.listApiKeys({ tenant: "acme" })).apiKeys).toEqual([]);
  });

  it("refuses an expired key with UNAUTHENTICATED over gRPC, Connect and the OpenAI REST face, even while cached", async () => {
    const { server, clock } = await start();
    const expiresAt = fromNow(30_000);
    const { key } = await grpc(server, server.auth).keys.createApiKey({
      name: "short",
      tenant: "acme",
      scopes: [Scope.MODELS_READ],
      expireTime: timestampFromDate(expiresAt),
    });
    const auth = withKey(key);
    // Now in the authenticator's cache, which would trust it for 10 minutes.
    expect((await grpc(server, auth).models.listModels({})).models.length).toBeGreaterThan(0);
    clock.offsetMs = 30_001;
    const expired = new RegExp(
      `^the API key expired at ${expiresAt.toISOString()}; ask an admin for a new one`,
    );
    const secretPart = key.split("_").at(-1) ?? key;
    for (const face of [grpc, connect]) {
      const error = await errorOf(face(server, auth).models.listModels({}));
      expect(error.code).toBe(Code.Unauthenticated);
      expect(error.rawMessage).toMatch(expired);
      expect(error.rawMessage).not.toContain(secretPart);
    }
    const rest = await fetch(`${server.baseUrl}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    expect(rest.status).toBe(401);
    const body = await rest.text();
    expect(JSON.parse(body).error.message).toMatch(expired);
    expect(body).not.toContain(secretPart);
    // Keys without an expiry are untouched by the clock.
    expect((await grpc(server, server.auth).keys.listApiKeys({})).apiKeys.length).toBeGreaterThan(0);
  });

  it("lets a JWT create keys that expire by its exp, and refuses longer or unending ones with PERMISSION_DENIED", async () => {
    const { server } = await start({
      jwt: createJwtVerifier({ issuer: "https://idp.example", audience: "noa", secret }),
    });
    const exp = Math.floor(Date.now() / 1000) + 300;
    const token = await new SignJWT({ tenant: "ops", scope: "admin" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("https://idp.example")
      .setAudience("noa")
      .setSubject("admin-1")
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode(secret));
    const { keys } = grpc(server, withKey(token));
    const input = { name: "from-token", tenant: "ops", scopes: [Scope.MODELS_READ] };
    const atExp = new Date(exp * 1000);

    const created = await keys.createApiKey({ ...input, expireTime: timestampFromDate(atExp) });
    expect(created.apiKey?.expireTime).toEqual(timestampFromDate(atExp));
    expect((await grpc(server, withKey(created.key)).models.listModels({})).models.length).toBeGreaterThan(0);

    const beyond = await errorOf(
      keys.createApiKey({ ...input, expireTime: timestampFromDate(new Date(atExp.getTime() + 1)) }),
    );
    expect(beyond.code).toBe(Code.PermissionDenied);
    expect(beyond.rawMessage).toMatch(
      `expire_time may not be later than this token (JWT)'s own expiry (${atExp.toISOString()})`,
    );
    const forever = await errorOf(keys.createApiKey(input));
    expect(forever.code).toBe(Code.PermissionDenied);
    expect(forever.rawMessage).toMatch(/^expire_time is required: a token \(JWT\) may not create API keys/);
    expect((await keys.listApiKeys({ tenant: "ops" })).apiKeys.map((key) => key.id)).toEqual([
      created.apiKey?.id,
    ]);
  });

  it("keeps the keys an expiring admin key creates within its expiry", async () => {
    const { server } = await start();
    const adminExpiry = fromNow(3_600_000);
    const { key } = await grpc(server, server.auth).keys.createApiKey({
      name: "expiring admin",
      tenant: "ops",
      scopes: [Scope.ADMIN],
      expireTime: timestampFromDate(adminExpiry),
    });
    const { keys } = grpc(server, withKey(key));
    const input = { name: "child", tenant: "acme", scopes: [Scope.INFERENCE] };
    const later = await errorOf(
      keys.createApiKey({ ...input, expireTime: timestampFromDate(new Date(adminExpiry.getTime() + 1)) }),
    );
    expect(later.code).toBe(Code.PermissionDenied);
    expect(later.rawMessage).toMatch(/^expire_time may not be later than this API key's own expiry/);
    const within = await keys.createApiKey({ ...input, expireTime: timestampFromDate(adminExpiry) });
    expect(within.apiKey?.expireTime).toEqual(timestampFromDate(adminExpiry));
  });
});
