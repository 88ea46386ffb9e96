import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { AccessError } from "./access-error.js";
import type { ApiKeyStore } from "./api-key-store.js";
import { createApiKeyService } from "./create-api-key-service.js";
import { createAuthenticator } from "./create-authenticator.js";
import { createJwtVerifier } from "./create-jwt-verifier.js";
import { createInMemoryApiKeyStore } from "./in-memory-api-key-store.js";
import type { Logger } from "./logger.js";

type Method = keyof ApiKeyStore;

/** Wraps a store to count calls per method (a fake, not a module mock). */
function countingStore(inner: ApiKeyStore) {
  const calls: Record<Method, number> = {
    create: 0,
    findByPrefix: 0,
    list: 0,
    revoke: 0,
    touch: 0,
    hasActiveAdmin: 0,
  };
  const store: ApiKeyStore = {
    create(record) {
      calls.create++;
      return inner.create(record);
    },
    findByPrefix(prefix) {
      calls.findByPrefix++;
      return inner.findByPrefix(prefix);
    },
    list(filter) {
      calls.list++;
      return inner.list(filter);
    },
    revoke(id, at) {
      calls.revoke++;
      return inner.revoke(id, at);
    },
    touch(id, at) {
      calls.touch++;
      return inner.touch(id, at);
    },
    hasActiveAdmin(at) {
      calls.hasActiveAdmin++;
      return inner.hasActiveAdmin(at);
    },
  };
  return { store, calls, total: () => Object.values(calls).reduce((sum, n) => sum + n, 0) };
}

function recordingLogger() {
  const lines: string[] = [];
  const log = (obj: object, msg?: string) => void lines.push(JSON.stringify({ ...obj, msg }));
  const logger: Logger = { debug: log, info: log, warn: log, error: log };
  return { logger, lines };
}

async function setup(options: { cacheTtlMs?: number; negativeCacheTtlMs?: number } = {}) {
  const clock = { now: Date.UTC(2030, 0, 1) };
  const now = () => clock.now;
  const counted = countingStore(createInMemoryApiKeyStore({ now }));
  const { logger, lines } = recordingLogger();
  const service = createApiKeyService({ store: counted.store, now });
  const authenticator = createAuthenticator({ store: counted.store, now, logger, ...options });
  const created = await service.create({
    name: "ci",
    tenant: "acme",
    scopes: ["inference"],
    allowedModels: ["default"],
    limits: { requestBurst: 5 },
  });
  return { clock, ...counted, service, authenticator, created, lines };
}

const bearer = (token: string) => new Headers({ authorization: `Bearer ${token}` });
const flush = () => new Promise((resolve) => setImmediate(resolve));

async function refusal(promise: Promise<unknown>): Promise<AccessError> {
  const error = await promise.catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(AccessError);
  expect((error as AccessError).code).toBe("unauthenticated");
  return error as AccessError;
}

describe("createAuthenticator with API keys", () => {
  it("accepts a key as a Bearer token and as x-api-key", async () => {
    const { authenticator, created } = await setup();
    const expected = {
      kind: "key",
      id: created.record.id,
      tenant: "acme",
      scopes: ["inference"],
      allowedModels: ["default"],
      limits: { requestBurst: 5 },
    };
    expect(await authenticator.authenticate(bearer(created.key))).toEqual(expected);
    expect(await authenticator.authenticate(new Headers({ "x-api-key": created.key }))).toEqual(expected);
    expect(
      await authenticator.authenticate(new Headers({ authorization: `bearer  ${created.key} ` })),
    ).toEqual(expected);
  });

  it("refuses a wrong secret under a right prefix, without echoing the key", async () => {
    const { authenticator, created } = await setup();
    await authenticator.authenticate(bearer(created.key));
    const forged = `${created.record.prefix}_${"A".repeat(43)}`;
    const error = await refusal(authenticator.authenticate(bearer(forged)));
    expect(error.message).toMatch(/not valid/);
    expect(error.message).not.toContain(forged);
    expect(error.message).not.toContain(created.record.prefix);
  });

  it("serves a validated key from the cache without asking the store", async () => {
    const { authenticator, created, calls, total } = await setup();
    await authenticator.authenticate(bearer(created.key));
    await flush();
    expect(calls.findByPrefix).toBe(1);
    const before = total();
    for (let i = 0; i < 5; i++) await authenticator.authenticate(bearer(created.key));
    await flush();
    expect(total()).toBe(before);
  });

  it("shares one store lookup between concurrent first requests", async () => {
    const { authenticator, created, calls } = await setup();
    await Promise.all(Array.from({ length: 10 }, () => authenticator.authenticate(bearer(created.key))));
    expect(calls.findByPrefix).toBe(1);
  });

  it("keeps serving a revoked key from the cache until the TTL, then refuses it", async () => {
    const { authenticator, created, service, clock, calls } = await setup({ cacheTtlMs: 30_000 });
    await authenticator.authenticate(bearer(created.key));
    await service.revoke(created.record.id);
    clock.now += 29_999;
    expect((await authenticator.authenticate(bearer(created.key))).id).toBe(created.record.id);
    expect(calls.findByPrefix).toBe(1);
    clock.now += 1;
    const error = await refusal(authenticator.authenticate(bearer(created.key)));
    expect(error.message).toMatch(/revoked/);
    expect(calls.findByPrefix).toBe(2);
  });

  it("refuses a key from its expiry on, saying it expired, without the key", async () => {
    const { authenticator, service, clock } = await setup();
    const expiresAt = new Date(clock.now + 60_000);
    const { key } = await service.create({ name: "short", tenant: "acme", scopes: ["inference"], expiresAt });
    expect(await authenticator.authenticate(bearer(key))).toMatchObject({ tenant: "acme", expiresAt });
    clock.now = expiresAt.getTime();
    const error = await refusal(authenticator.authenticate(bearer(key)));
    expect(error.message).toBe("the API key expired at 2030-01-01T00:01:00.000Z; ask an admin for a new one");
    expect(error.message).not.toContain(key.split("_").at(-1));
  });

  it("never serves a key from the cache past its expiry, however long the cache TTL", async () => {
    const { authenticator, service, clock, calls } = await setup({ cacheTtlMs: 30_000 });
    const expiresAt = new Date(clock.now + 10_000);
    const { key } = await service.create({ name: "short", tenant: "acme", scopes: ["inference"], expiresAt });
    await authenticator.authenticate(bearer(key));
    clock.now += 9_999;
    await authenticator.authenticate(bearer(key));
    expect(calls.findByPrefix).toBe(1);
    clock.now += 1;
    expect((await refusal(authenticator.authenticate(bearer(key)))).message).toMatch(/expired/);
  });

  it("forgets a key at once when told (a revocation on this process)", async () => {
    const { authenticator, created, service } = await setup();
    await authenticator.authenticate(bearer(created.key));
    await service.revoke(created.record.id);
    authenticator.forget(created.record.id);
    await refusal(authenticator.authenticate(bearer(created.key)));
  });

  it("remembers a refused key briefly, so a client retrying it does not reach the store each time", async () => {
    const { authenticator, created, clock, calls } = await setup({ negativeCacheTtlMs: 5_000 });
    const forged = `${created.record.prefix}_${"B".repeat(43)}`;
    for (let i = 0; i < 3; i++) await refusal(authenticator.authenticate(bearer(forged)));
    expect(calls.findByPrefix).toBe(1);
    clock.now += 5_000;
    await refusal(authenticator.authenticate(bearer(forged)));
    expect(calls.findByPrefix).toBe(2);
    // The right key with the same prefix is not affected by the refused one.
    await authenticator.authenticate(bearer(created.key));
  });

  it("records use at most once a minute, and a failing touch fails no request", async () => {
    const { authenticator, created, clock, calls, store, lines } = await setup();
    await authenticator.authenticate(bearer(created.key));
    await flush();
    expect(calls.touch).toBe(1);
    expect((await store.findByPrefix(created.record.prefix))?.lastUsedAt).toEqual(new Date(clock.now));
    clock.now += 20_000;
    await authenticator.authenticate(bearer(created.key));
    await flush();
    expect(calls.touch).toBe(1);
    clock.now += 40_000;
    store.touch = async () => {
      throw new Error("database is down");
    };
    await authenticator.authenticate(bearer(created.key));
    await flush();
    expect(lines.some((line) => line.includes("could not record API key use"))).toBe(true);
  });

  it("never logs a key", async () => {
    const { authenticator, created, lines } = await setup();
    await authenticator.authenticate(bearer(created.key));
    await refusal(authenticator.authenticate(bearer(`${created.record.prefix}_${"C".repeat(43)}`)));
    const secret = created.key.slice(created.record.prefix.length + 1);
    expect(lines.join("\n")).not.toContain(secret);
    expect(lines.join("\n")).not.toContain("C".repeat(43));
  });

  it("hands out a principal nobody can change for the next request", async () => {
    const { authenticator, created } = await setup();
    const principal = await authenticator.authenticate(bearer(created.key));
    expect(() => principal.scopes.push("admin")).toThrow(TypeError);
    expect((await authenticator.authenticate(bearer(created.key))).scopes).toEqual(["inference"]);
  });
});

describe("createAuthenticator: what to send", () => {
  it.each([
    ["no credentials", new Headers(), /missing credentials: send "Authorization: Bearer <API key>"/],
    ["another scheme", new Headers({ authorization: "Basic dTpw" }), /must be "Bearer <API key>"/],
    ["an empty Bearer", new Headers({ authorization: "Bearer " }), /must be "Bearer <API key>"/],
    ["a JWT when none are accepted", bearer("eyJ.eyJ.sig"), /accepts API keys only/],
  ])("refuses %s, saying what to send", async (_, headers, message) => {
    const { authenticator } = await setup();
    expect((await refusal(authenticator.authenticate(headers))).message).toMatch(message);
  });
});

describe("createAuthenticator with JWTs", () => {
  it("verifies a bearer token that is not a NOA key as a JWT", async () => {
    const secret = "a-shared-secret-of-at-least-32-bytes!";
    const jwt = createJwtVerifier({ issuer: "https://id.test/", audience: "noa", secret });
    const authenticator = createAuthenticator({ store: createInMemoryApiKeyStore(), jwt });
    const token = await new SignJWT({ tenant: "acme", scope: "jobs" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("https://id.test/")
      .setAudience("noa")
      .setSubject("svc-7")
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(secret));
    expect(await authenticator.authenticate(bearer(token))).toMatchObject({
      kind: "jwt",
      id: "svc-7",
      scopes: ["jobs"],
    });
    expect((await refusal(authenticator.authenticate(new Headers()))).message).toMatch(/API key or JWT/);
  });
});
