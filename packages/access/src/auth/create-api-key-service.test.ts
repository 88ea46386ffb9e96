import { describe, expect, it } from "vitest";
import { AccessError } from "./access-error.js";
import type { ApiKeyStore } from "./api-key-store.js";
import { createApiKeyService } from "./create-api-key-service.js";
import { generateApiKey, hashApiKey } from "./generate-api-key.js";
import { createInMemoryApiKeyStore } from "./in-memory-api-key-store.js";
import { allScopes } from "./principal.js";

const clock = () => Date.UTC(2030, 0, 1);

function setup() {
  const store = createInMemoryApiKeyStore({ now: clock });
  return { store, service: createApiKeyService({ store, now: clock }) };
}

async function allRecords(store: ApiKeyStore) {
  return (await store.list({ includeRevoked: true, limit: 1_000 })).keys;
}

const valid = { name: "ci", tenant: "acme", scopes: ["inference"] };

describe("createApiKeyService.create", () => {
  it("returns the key once and stores only its prefix and hash", async () => {
    const { store, service } = setup();
    const { record, key } = await service.create({
      name: " ci runner ",
      tenant: "acme",
      scopes: ["inference", "models:read", "inference"],
      allowedModels: ["openai/*", "default"],
      limits: { requestBurst: 10, requestsPerSecond: 1, tokensPerMinute: 0 },
    });
    expect(key.startsWith(`${record.prefix}_`)).toBe(true);
    expect(record).toMatchObject({
      name: "ci runner",
      tenant: "acme",
      scopes: ["inference", "models:read"],
      allowedModels: ["openai/*", "default"],
      limits: { requestBurst: 10, requestsPerSecond: 1, tokensPerMinute: 0 },
      hash: hashApiKey(key),
    });
    const stored = JSON.stringify(await allRecords(store));
    expect(stored).not.toContain(key);
    expect(stored).not.toContain(key.slice(record.prefix.length + 1));
  });

  it("stores an expiry in the future and hands it back from list", async () => {
    const { service } = setup();
    const expiresAt = new Date(clock() + 1);
    const { record } = await service.create({ ...valid, expiresAt });
    expect(record.expiresAt).toEqual(expiresAt);
    expect((await service.list()).keys.map((key) => key.expiresAt)).toEqual([expiresAt]);
    expect((await service.create(valid)).record.expiresAt).toBeUndefined();
  });

  it.each([
    ["a blank name", { ...valid, name: "  " }, /name is required/],
    ["a blank tenant", { ...valid, tenant: "" }, /tenant is required/],
    ["no scopes", { ...valid, scopes: [] }, /at least one of: inference, models:read, jobs, admin/],
    ["an unknown scope", { ...valid, scopes: ["inference", "root"] }, /unknown scope "root"/],
    ["a blank model", { ...valid, allowedModels: [""] }, /allowed_models/],
    [
      "a zero burst",
      { ...valid, limits: { requestBurst: 0 } },
      /^rate_limit\.request_burst must be a whole number of at least 1$/,
    ],
    ["a negative rate", { ...valid, limits: { requestsPerSecond: -1 } }, /^rate_limit\.requests_per_second/],
    [
      "a fractional token limit",
      { ...valid, limits: { tokensPerMinute: 1.5 } },
      /^rate_limit\.tokens_per_minute/,
    ],
    [
      "an expiry in the past",
      { ...valid, expiresAt: new Date(clock() - 1) },
      /^expire_time must be in the future: got 2029-12-31T23:59:59\.999Z, and it is now 2030-01-01T00:00:00\.000Z; leave it unset for a key that never expires$/,
    ],
    ["an expiry of now", { ...valid, expiresAt: new Date(clock()) }, /^expire_time must be in the future/],
    [
      "an expiry that is not a time",
      { ...valid, expiresAt: new Date("next tuesday") },
      /^expire_time is not a valid time: send one in the future \(e\.g\. 2030-01-01T00:00:00Z\)/,
    ],
    [
      "an expiry past year 9999 (no database timestamp holds it)",
      { ...valid, expiresAt: new Date("+010000-01-01T00:00:00.000Z") },
      /^expire_time must be no later than 9999-12-31T23:59:59\.999Z: got \+010000-01-01T00:00:00\.000Z/,
    ],
  ])("refuses %s with invalid-argument", async (_, input, message) => {
    const { store, service } = setup();
    const error = await service.create(input).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AccessError);
    expect(error).toMatchObject({ code: "invalid-argument", message: expect.stringMatching(message) });
    expect(await allRecords(store)).toEqual([]);
  });
});

describe("createApiKeyService.list and revoke", () => {
  it("lists active keys by default, revoked ones on request, and pages with limits", async () => {
    const { service } = setup();
    const a = await service.create({ ...valid, name: "a" });
    await service.create({ ...valid, name: "b", tenant: "globex" });
    await service.revoke(a.record.id);
    expect((await service.list()).keys.map((k) => k.name)).toEqual(["b"]);
    expect((await service.list({ includeRevoked: true, tenant: "acme" })).keys.map((k) => k.name)).toEqual([
      "a",
    ]);
    const page = await service.list({ includeRevoked: true, limit: 1 });
    expect(page.keys).toHaveLength(1);
    expect(page.nextCursor).toBeDefined();
    // The message names the contract's field (ListApiKeysRequest.page_size) and its bound.
    await expect(service.list({ limit: -1 })).rejects.toMatchObject({
      code: "invalid-argument",
      message: "page_size must be a whole number of at least 0 (0: 50; above 500: 500)",
    });
  });

  it("serves pages of up to 500 keys, as the contract says, and lowers larger asks to 500", async () => {
    const { service } = setup();
    await Promise.all(
      Array.from({ length: 501 }, (_, index) => service.create({ ...valid, name: `k${index}` })),
    );
    expect((await service.list({ limit: 500 })).keys).toHaveLength(500);
    expect((await service.list({ limit: 1000 })).keys).toHaveLength(500);
  });

  it("revokes with the clock's time, keeps it when revoked again, and says not-found for unknown ids", async () => {
    const { service } = setup();
    const { record } = await service.create(valid);
    expect((await service.revoke(record.id)).revokedAt).toEqual(new Date(clock()));
    expect((await service.revoke(record.id)).revokedAt).toEqual(new Date(clock()));
    await expect(service.revoke("no-such-key")).rejects.toMatchObject({
      code: "not-found",
      message: 'API key "no-such-key" does not exist',
    });
  });
});

describe("createApiKeyService.bootstrapAdmin", () => {
  it("first start without a master key creates an admin key and returns it; later starts return nothing", async () => {
    const { store, service } = setup();
    const first = await service.bootstrapAdmin({});
    expect(first?.record).toMatchObject({ tenant: "admin", scopes: [...allScopes], allowedModels: [] });
    expect(first?.key.startsWith(`${first.record.prefix}_`)).toBe(true);
    expect(await service.bootstrapAdmin({})).toBeUndefined();
    // A restart is a new service over the same store.
    expect(await createApiKeyService({ store }).bootstrapAdmin({ masterKey: "" })).toBeUndefined();
    expect(await allRecords(store)).toHaveLength(1);
    expect(JSON.stringify(await allRecords(store))).not.toContain(first?.key);
  });

  it("creates a new admin key when the only one was revoked", async () => {
    const { service } = setup();
    const first = await service.bootstrapAdmin({});
    await service.revoke(first?.record.id ?? "");
    const second = await service.bootstrapAdmin({});
    expect(second?.record.id).not.toBe(first?.record.id);
  });

  it("creates a new admin key once the only one has expired", async () => {
    const store = createInMemoryApiKeyStore({ now: clock });
    const expiring = await createApiKeyService({ store, now: clock }).create({
      name: "temporary admin",
      tenant: "admin",
      scopes: ["admin"],
      expiresAt: new Date(clock() + 60_000),
    });
    const later = (ms: number) => createApiKeyService({ store, now: () => clock() + ms });
    expect(await later(59_999).bootstrapAdmin({})).toBeUndefined();
    const bootstrapped = await later(60_000).bootstrapAdmin({});
    expect(bootstrapped?.record.id).not.toBe(expiring.record.id);
    expect(bootstrapped?.record.expiresAt).toBeUndefined();
  });

  it("registers the master key once, across restarts, storing only its hash", async () => {
    const { store } = setup();
    const { key: masterKey, prefix } = generateApiKey();
    for (let start = 0; start < 3; start++) {
      expect(await createApiKeyService({ store }).bootstrapAdmin({ masterKey })).toBeUndefined();
    }
    const records = await allRecords(store);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      prefix,
      hash: hashApiKey(masterKey),
      tenant: "admin",
      scopes: [...allScopes],
    });
    expect(JSON.stringify(records)).not.toContain(masterKey);
  });

  it("registers the master key once when replicas start together", async () => {
    const { store } = setup();
    const { key: masterKey } = generateApiKey();
    await Promise.all(
      Array.from({ length: 3 }, () => createApiKeyService({ store }).bootstrapAdmin({ masterKey })),
    );
    expect(await allRecords(store)).toHaveLength(1);
  });

  it("refuses a malformed master key without echoing it", async () => {
    const { service } = setup();
    const error = await service
      .bootstrapAdmin({ masterKey: "changeme-secret" })
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "invalid-argument", message: expect.stringContaining("noa_<10") });
    expect((error as Error).message).not.toContain("changeme-secret");
  });

  it("refuses a master key that was revoked, or whose prefix belongs to another key", async () => {
    const { store, service } = setup();
    const { key: masterKey, prefix } = generateApiKey();
    await service.bootstrapAdmin({ masterKey });
    const [record] = await allRecords(store);
    await service.revoke(record?.id ?? "");
    await expect(service.bootstrapAdmin({ masterKey })).rejects.toMatchObject({
      code: "invalid-argument",
      message: expect.stringContaining("was revoked"),
    });
    const impostor = `${prefix}_${"x".repeat(43)}`;
    await expect(service.bootstrapAdmin({ masterKey: impostor })).rejects.toMatchObject({
      message: expect.stringContaining("already belongs to another API key"),
    });
  });
});
