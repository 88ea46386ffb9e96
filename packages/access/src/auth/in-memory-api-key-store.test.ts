import { describe, expect, it } from "vitest";
import { describeApiKeyStoreContract } from "./api-key-store-contract.js";
import { createInMemoryApiKeyStore } from "./in-memory-api-key-store.js";

describeApiKeyStoreContract("in memory", async () => ({ store: createInMemoryApiKeyStore() }));

describe("createInMemoryApiKeyStore", () => {
  it("stamps createdAt from the injected clock", async () => {
    const store = createInMemoryApiKeyStore({ now: () => Date.UTC(2030, 0, 1) });
    const record = await store.create({
      id: "k1",
      name: "n",
      prefix: "noa_0123456789",
      hash: "00",
      tenant: "t",
      scopes: ["inference"],
      allowedModels: [],
      limits: {},
    });
    expect(record.createdAt.toISOString()).toBe("2030-01-01T00:00:00.000Z");
  });

  it("refuses a cursor it did not issue", async () => {
    const store = createInMemoryApiKeyStore();
    await expect(
      store.list({ includeRevoked: false, limit: 1, cursor: "not-a-cursor" }),
    ).rejects.toMatchObject({
      code: "invalid-argument",
    });
  });
});
