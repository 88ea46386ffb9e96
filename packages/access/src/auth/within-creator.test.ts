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

  it("refuses every key to a token (JWT), which would outlive it", () => {
    const error = refusal(() =>
      withinCreator(admin({ kind: "jwt", id: "user-42" }), { allowedModels: [], limits: {} }),
    );
    expect(error.code).toBe("permission-denied");
    expect(error.message).toMatch(/JWT\) may not create API keys/);
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
});
