import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ApiKeyStore } from "./api-key-store.js";
import { generateApiKey } from "./generate-api-key.js";

/** What a store's test gives the contract suite: a new, empty store for every test. */
export interface ApiKeyStoreSubject {
  store: ApiKeyStore;
  close?: () => Promise<void>;
}

type NewRecord = Parameters<ApiKeyStore["create"]>[0];

/** A valid record to create in a store under test (a fresh generated key's prefix and hash). */
export function newApiKeyRecord(overrides: Partial<NewRecord> = {}): NewRecord {
  const { prefix, hash } = generateApiKey();
  return {
    id: randomUUID(),
    name: "test key",
    prefix,
    hash,
    tenant: "acme",
    scopes: ["inference"],
    allowedModels: [],
    limits: {},
    ...overrides,
  };
}

/**
 * The behaviour every {@link ApiKeyStore} must have (in memory, Prisma on PGlite or PostgreSQL): one
 * suite, run by each implementation's tests. `setup` is called before every test and must return an empty store.
 */
export function describeApiKeyStoreContract(name: string, setup: () => Promise<ApiKeyStoreSubject>): void {
  describe(`ApiKeyStore contract: ${name}`, () => {
    let subject: ApiKeyStoreSubject;
    let store: ApiKeyStore;
    beforeEach(async () => {
      subject = await setup();
      store = subject.store;
    });
    afterEach(async () => {
      await subject?.close?.();
    });

    it("creates a record and finds it by prefix, with every field as given", async () => {
      const input = newApiKeyRecord({
        scopes: ["inference", "models:read"],
        allowedModels: ["openai/gpt-4o-mini", "default"],
        limits: { requestBurst: 20, requestsPerSecond: 2.5, tokensPerMinute: 10_000 },
      });
      const created = await store.create(input);
      expect(created).toMatchObject(input);
      expect(created.createdAt).toBeInstanceOf(Date);
      expect(created.lastUsedAt).toBeUndefined();
      expect(created.revokedAt).toBeUndefined();
      expect(created.expiresAt).toBeUndefined();
      expect(await store.findByPrefix(input.prefix)).toEqual(created);
      expect(await store.findByPrefix(generateApiKey().prefix)).toBeUndefined();
    });

    it("keeps a key's expiry to the millisecond, and hands it back from findByPrefix and list", async () => {
      const expiresAt = new Date("2030-06-01T12:34:56.789Z");
      const created = await store.create(newApiKeyRecord({ expiresAt }));
      expect(created.expiresAt).toEqual(expiresAt);
      expect((await store.findByPrefix(created.prefix))?.expiresAt).toEqual(expiresAt);
      const [listed] = (await store.list({ includeRevoked: false, limit: 10 })).keys;
      expect(listed?.expiresAt).toEqual(expiresAt);
    });

    it("refuses a second record with the same prefix", async () => {
      const first = newApiKeyRecord();
      await store.create(first);
      await expect(store.create(newApiKeyRecord({ prefix: first.prefix }))).rejects.toThrow();
    });

    it("hands out copies: changing a returned record changes nothing stored", async () => {
      const created = await store.create(newApiKeyRecord());
      created.scopes.push("admin");
      created.tenant = "other";
      expect(await store.findByPrefix(created.prefix)).toMatchObject({
        scopes: ["inference"],
        tenant: "acme",
      });
    });

    it("lists newest first, by tenant, without revoked keys unless asked", async () => {
      const a = await store.create(newApiKeyRecord({ name: "a" }));
      await store.create(newApiKeyRecord({ name: "b", tenant: "globex" }));
      await store.create(newApiKeyRecord({ name: "c" }));
      await store.revoke(a.id, new Date());
      const names = async (filter: Parameters<ApiKeyStore["list"]>[0]) =>
        (await store.list(filter)).keys.map((key) => key.name);
      expect(await names({ includeRevoked: false, limit: 10 })).toEqual(["c", "b"]);
      expect(await names({ includeRevoked: true, limit: 10 })).toEqual(["c", "b", "a"]);
      expect(await names({ tenant: "acme", includeRevoked: true, limit: 10 })).toEqual(["c", "a"]);
      expect(await names({ tenant: "initech", includeRevoked: true, limit: 10 })).toEqual([]);
    });

    it("pages with the cursor: every key once, no cursor after the last page", async () => {
      const created: string[] = [];
      for (let i = 0; i < 5; i++) created.push((await store.create(newApiKeyRecord({ name: `k${i}` }))).id);
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.list({ includeRevoked: false, limit: 2, cursor });
        seen.push(...page.keys.map((key) => key.id));
        cursor = page.nextCursor;
        pages++;
      } while (cursor !== undefined && pages < 10);
      expect(pages).toBe(3);
      expect(seen).toEqual(created.reverse());
      const exact = await store.list({ includeRevoked: false, limit: 5 });
      expect(exact.nextCursor).toBeUndefined();
    });

    it("revokes once: the first revocation time is kept; an unknown id gives undefined", async () => {
      const created = await store.create(newApiKeyRecord());
      const first = new Date("2030-01-01T00:00:00Z");
      expect((await store.revoke(created.id, first))?.revokedAt).toEqual(first);
      expect((await store.revoke(created.id, new Date("2031-01-01T00:00:00Z")))?.revokedAt).toEqual(first);
      expect((await store.findByPrefix(created.prefix))?.revokedAt).toEqual(first);
      expect(await store.revoke(randomUUID(), first)).toBeUndefined();
    });

    it("records the last use", async () => {
      const created = await store.create(newApiKeyRecord());
      const at = new Date("2030-01-01T00:00:00Z");
      await store.touch(created.id, at);
      expect((await store.findByPrefix(created.prefix))?.lastUsedAt).toEqual(at);
    });

    it("knows whether an unrevoked admin key exists", async () => {
      const at = new Date();
      expect(await store.hasActiveAdmin(at)).toBe(false);
      await store.create(newApiKeyRecord({ scopes: ["inference", "jobs"] }));
      expect(await store.hasActiveAdmin(at)).toBe(false);
      const admin = await store.create(newApiKeyRecord({ scopes: ["admin"], tenant: "admin" }));
      expect(await store.hasActiveAdmin(at)).toBe(true);
      await store.revoke(admin.id, new Date());
      expect(await store.hasActiveAdmin(at)).toBe(false);
    });

    it("counts an admin key as active only until it expires", async () => {
      const expiresAt = new Date("2030-01-01T00:00:00.000Z");
      await store.create(newApiKeyRecord({ scopes: ["admin"], tenant: "admin", expiresAt }));
      expect(await store.hasActiveAdmin(new Date("2029-12-31T23:59:59.999Z"))).toBe(true);
      expect(await store.hasActiveAdmin(expiresAt)).toBe(false);
    });
  });
}
