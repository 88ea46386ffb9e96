import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateApiKey, hashApiKey, parseApiKey } from "./generate-api-key.js";

describe("generateApiKey", () => {
  it("makes noa_<10 public chars>_<43 secret chars>, alphanumeric, with its prefix and hash", () => {
    const { key, prefix, hash } = generateApiKey();
    expect(key).toMatch(/^noa_[0-9A-Za-z]{10}_[0-9A-Za-z]{43}$/);
    expect(key.startsWith(`${prefix}_`)).toBe(true);
    expect(prefix).toMatch(/^noa_[0-9A-Za-z]{10}$/);
    expect(hash).toBe(createHash("sha256").update(key).digest("hex"));
  });

  it("never hands out the same key or prefix twice", () => {
    const keys = Array.from({ length: 2_000 }, () => generateApiKey());
    expect(new Set(keys.map((k) => k.key)).size).toBe(keys.length);
    expect(new Set(keys.map((k) => k.prefix)).size).toBe(keys.length);
  });

  it("stores nothing from which the secret can be read: the hash contains neither key nor secret", () => {
    const { key, hash } = generateApiKey();
    const secret = key.split("_")[2] ?? "";
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).not.toContain(secret);
    expect(hash).not.toContain(key);
  });

  it("uses the whole alphabet (no modulo-biased or constant characters)", () => {
    const seen = new Set(
      Array.from({ length: 200 }, () => generateApiKey().key.slice(15)).flatMap((secret) => [...secret]),
    );
    expect(seen.size).toBe(62);
  });
});

describe("hashApiKey", () => {
  it("is deterministic and depends on every character", () => {
    const { key } = generateApiKey();
    expect(hashApiKey(key)).toBe(hashApiKey(key));
    // Another last character (the key's own is random, and may be any one).
    const other = key.endsWith("x") ? "y" : "x";
    expect(hashApiKey(`${key.slice(0, -1)}${other}`)).not.toBe(hashApiKey(key));
  });
});

describe("parseApiKey", () => {
  it("returns the prefix of a well-formed key", () => {
    const { key, prefix } = generateApiKey();
    expect(parseApiKey(key)).toEqual({ prefix });
  });

  it.each([
    ["empty", ""],
    ["a JWT", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"],
    ["another vendor's key", "sk-proj-0123456789abcdefghijklmnopqrstuvwxyz"],
    ["a short public id", `noa_abc_${"a".repeat(43)}`],
    ["a short secret", `noa_0123456789_${"a".repeat(31)}`],
    ["a non-alphanumeric secret", `noa_0123456789_${"a".repeat(42)}-`],
    ["surrounding whitespace", ` noa_0123456789_${"a".repeat(43)}`],
    ["a missing separator", `noa_0123456789${"a".repeat(43)}`],
  ])("refuses %s", (_, text) => {
    expect(parseApiKey(text)).toBeUndefined();
  });
});
