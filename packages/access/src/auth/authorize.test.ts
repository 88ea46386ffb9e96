import { describe, expect, it } from "vitest";
import { hasScope, requireModel, requireScope } from "./authorize.js";
import type { Principal } from "./principal.js";

function principal(overrides: Partial<Principal> = {}): Principal {
  return {
    kind: "key",
    id: "k1",
    tenant: "acme",
    scopes: ["inference"],
    allowedModels: [],
    limits: {},
    ...overrides,
  };
}

describe("requireScope", () => {
  it("passes with the scope and names the missing one otherwise", () => {
    expect(() => requireScope(principal(), "inference")).not.toThrow();
    expect(() => requireScope(principal(), "jobs")).toThrow(
      expect.objectContaining({
        code: "permission-denied",
        message: 'this API key lacks the "jobs" scope (it has: inference)',
      }),
    );
    expect(() => requireScope(principal({ kind: "jwt", scopes: [] }), "admin")).toThrow(
      'this token lacks the "admin" scope (it has: none)',
    );
  });

  it("treats admin as every scope", () => {
    const admin = principal({ scopes: ["admin"] });
    for (const scope of ["inference", "models:read", "jobs", "admin"] as const) {
      expect(hasScope(admin, scope)).toBe(true);
      expect(() => requireScope(admin, scope)).not.toThrow();
    }
  });
});

describe("requireModel", () => {
  it("allows every model when the list is empty", () => {
    expect(() => requireModel(principal(), "anthropic/claude-3-5-haiku-latest")).not.toThrow();
  });

  it("allows listed ids, aliases and whole providers, and names the refused model", () => {
    const limited = principal({ allowedModels: ["default", "openai/*"] });
    expect(() => requireModel(limited, "default")).not.toThrow();
    expect(() => requireModel(limited, "openai/gpt-4o-mini")).not.toThrow();
    expect(() => requireModel(limited, "openai-compatible/x")).toThrow(
      /may not use model "openai-compatible\/x"/,
    );
    expect(() => requireModel(limited, "llama-cpp/tiny")).toThrow(
      expect.objectContaining({
        code: "permission-denied",
        message: 'this API key may not use model "llama-cpp/tiny" (allowed: default, openai/*)',
      }),
    );
  });

  it("holds for admins too: the allow-list is the key's own restriction", () => {
    expect(() =>
      requireModel(principal({ scopes: ["admin"], allowedModels: ["default"] }), "openai/x"),
    ).toThrow();
  });
});
