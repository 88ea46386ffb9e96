import { describe, expect, it } from "vitest";
import { AccessError } from "./access-error.js";
import { createApiKeyService } from "./create-api-key-service.js";
import { createInMemoryApiKeyStore } from "./in-memory-api-key-store.js";
import type { Principal } from "./principal.js";
import { withinCreator } from "./within-creator.js";

function admin(overrides: Partial<Principal> = {}): Principal {
  return {
    kind: "key",
    id: "admin-1",
    tenant: "admin",
    scopes: ["admin"],
    allowedModels: [],
    limits: {},
    ...overrides,
  };
}

function refusal(run: () => unknown): AccessError {
  try {
    run();
  } catch (error) {
    if (error instanceof AccessError) return error;
    throw error;
  }
  throw new Error("should have been refused");
}

describe("withinCreator", () => {
  it("leaves an unbounded admin's key as asked", () => {
    const wanted = { allowedModels: ["openai/*"], limits: { requestBurst: 1_000_000, tokensPerMinute: 0 } };
    expect(withinCreator(admin(), wanted)).toEqual(wanted);
  });

  it("gives a key asking for no models the creator's allow-list, and refuses models outside it by name", () => {
    const creator = admin({ allowedModels: ["openai/*", "llama-cpp/tiny"] });
    expect(withinCreator(creator, { allowedModels: [], limits: {} }).allowedModels).toEqual([
      "openai/*",
      "llama-cpp/tiny",
    ]);
    expect(
      withinCreator(creator, {
        allowedModels: ["openai/gpt-4o-mini", "openai/*", "llama-cpp/tiny"],
        limits: {},
      }).allowedModels,
    ).toEqual(["openai/gpt-4o-mini", "openai/*", "llama-cpp/tiny"]);
    for (const outside of ["anthropic/claude-3-haiku", "llama-cpp/*", "default"]) {
      const error = refusal(() =>
        withinCreator(creator, { allowedModels: ["openai/gpt-4o", outside], limits: {} }),
      );
      expect(error.code).toBe("permission-denied");
      expect(error.message).toMatch(/^allowed_models may not go beyond/);
      expect(error.message).toContain(`"${outside}"`);
      expect(error.message).not.toContain('"openai/gpt-4o"');
    }
  });

  it("gives unset limits the creator's, and refuses limits above them naming the field", () => {
    const creator = admin({ limits: { requestBurst: 10, requestsPerSecond: 1, tokensPerMinute: 1_000 } });
    expect(withinCreator(creator, { allowedModels: [], limits: {} }).limits).toEqual({
      requestBurst: 10,
      requestsPerSecond: 1,
      tokensPerMinute: 1_000,
    });
    expect(withinCreator(creator, { allowedModels: [], limits: { requestBurst: 5 } }).limits).toEqual({
      requestBurst: 5,
      requestsPerSecond: 1,
      tokensPerMinute: 1_000,
    });
    const cases = [
      [{ requestBurst: 11 }, "rate_limit.request_burst"],
      [{ requestsPerSecond: 1.5 }, "rate_limit.requests_per_second"],
      [{ tokensPerMinute: 1_001 }, "rate_limit.tokens_per_minute"],
      // 0 is no token limit: more than any budget.
      [{ tokensPerMinute: 0 }, "rate_limit.tokens_per_minute"],
    ] as const;
    for (const [limits, field] of cases) {
      const error = refusal(() => withinCreator(creator, { allowedModels: [], limits }));
      expect(error.code).toBe("permission-denied");
      expect(error.message.startsWith(`${field} may not exceed`)).toBe(true);
    }
  });

  it("lets a creator without a token limit (0) give any", () => {
    const creator = admin({ limits: { tokensPerMinute: 0 } });
    expect(withinCreator(creator, { allowedModels: [], limits: { tokensPerMinute: 5 } }).limits).toEqual({
      tokensPerMinute: 5,
    });
  });

  const exp = new Date("2030-01-01T00:05:00.000Z");
  const token = (overrides: Partial<Principal> = {}) =>
    admin({ kind: "jwt", id: "user-42", expiresAt: exp, ...overrides });

  it("lets a token (JWT) mint a key that expires no later than the token", () => {
    for (const expiresAt of [new Date(exp.getTime() - 60_000), exp]) {
      expect(withinCreator(token(), { allowedModels: [], limits: {}, expiresAt }).expiresAt).toEqual(
        expiresAt,
      );
    }
  });

  it("refuses a token (JWT) a key that never expires or outlives it, naming expire_time", () => {
    const forever = refusal(() => withinCreator(token(), { allowedModels: [], limits: {} }));
    expect(forever.code).toBe("permission-denied");
    expect(forever.message).toBe(
      "expire_time is required: a token (JWT) may not create API keys that never expire; " +
        "set expire_time to no later than its own expiry (2030-01-01T00:05:00.000Z)",
    );
    const later = new Date(exp.getTime() + 1);
    const outliving = refusal(() =>
      withinCreator(token(), { allowedModels: [], limits: {}, expiresAt: later }),
    );
    expect(outliving.code).toBe("permission-denied");
    expect(outliving.message).toBe(
      "expire_time may not be later than this token (JWT)'s own expiry (2030-01-01T00:05:00.000Z); " +
        "got 2030-01-01T00:05:00.001Z",
    );
    // A token whose expiry is unknown bounds nothing, so it mints nothing.
    const unknown = refusal(() =>
      withinCreator(token({ expiresAt: undefined }), { allowedModels: [], limits: {}, expiresAt: exp }),
    );
    expect(unknown.message).toMatch(/^a token \(JWT\) without an expiry \(exp\) may not create API keys/);
  });

  it("keeps a key made by an expiring API key within that key's expiry; a key that never expires gives any", () => {
    const expiring = admin({ expiresAt: exp });
    expect(withinCreator(expiring, { allowedModels: [], limits: {}, expiresAt: exp }).expiresAt).toEqual(exp);
    expect(refusal(() => withinCreator(expiring, { allowedModels: [], limits: {} })).message).toMatch(
      /^expire_time is required: an API key that expires may not create API keys that never expire/,
    );
    const outliving = refusal(() =>
      withinCreator(expiring, { allowedModels: [], limits: {}, expiresAt: new Date(exp.getTime() + 1) }),
    );
    expect(outliving.code).toBe("permission-denied");
    expect(outliving.message).toMatch(/^expire_time may not be later than this API key's own expiry/);
    const later = new Date("2040-01-01T00:00:00.000Z");
    expect(withinCreator(admin(), { allowedModels: [], limits: {}, expiresAt: later }).expiresAt).toEqual(
      later,
    );
    expect(withinCreator(admin(), { allowedModels: [], limits: {} }).expiresAt).toBeUndefined();
  });
});

describe("createApiKeyService.create with a creator", () => {
  it("stores the key within its creator's bounds, and stores nothing when refused", async () => {
    const store = createInMemoryApiKeyStore();
    const service = createApiKeyService({ store });
    const creator = admin({ allowedModels: ["openai/*"], limits: { requestBurst: 10 } });
    const { record } = await service.create({
      name: "child",
      tenant: "acme",
      scopes: ["inference"],
      creator,
    });
    expect(record).toMatchObject({ allowedModels: ["openai/*"], limits: { requestBurst: 10 } });
    await expect(
      service.create({
        name: "wide",
        tenant: "acme",
        scopes: ["inference"],
        allowedModels: ["anthropic/*"],
        creator,
      }),
    ).rejects.toMatchObject({ code: "permission-denied" });
    expect((await store.list({ includeRevoked: true, limit: 10 })).keys).toHaveLength(1);
  });

  it("stores a token's (JWT) key with its expiry, and nothing when it would outlive the token", async () => {
    const now = Date.parse("2030-01-01T00:00:00.000Z");
    const store = createInMemoryApiKeyStore({ now: () => now });
    const service = createApiKeyService({ store, now: () => now });
    const creator = admin({ kind: "jwt", id: "user-42", expiresAt: new Date(now + 300_000) });
    const expiresAt = new Date(now + 240_000);
    const { record } = await service.create({
      name: "ci",
      tenant: "acme",
      scopes: ["inference"],
      expiresAt,
      creator,
    });
    expect(record.expiresAt).toEqual(expiresAt);
    await expect(
      service.create({
        name: "long",
        tenant: "acme",
        scopes: ["inference"],
        expiresAt: new Date(now + 300_001),
        creator,
      }),
    ).rejects.toMatchObject({
      code: "permission-denied",
      message: expect.stringMatching(/^expire_time may not be later/),
    });
    await expect(
      service.create({ name: "forever", tenant: "acme", scopes: ["inference"], creator }),
    ).rejects.toMatchObject({
      code: "permission-denied",
      message: expect.stringMatching(/^expire_time is required/),
    });
    expect((await store.list({ includeRevoked: true, limit: 10 })).keys.map((key) => key.name)).toEqual([
      "ci",
    ]);
  });
});
