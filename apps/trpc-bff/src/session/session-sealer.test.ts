import { describe, expect, it } from "vitest";
import { createSessionSealer, keyPrefixOf } from "./session-sealer.js";

const apiKey = "noa_abcdefghij_0123456789abcdef0123456789abcdef";

describe("createSessionSealer", () => {
  it("seals the key so the token does not show it, and opens it again", async () => {
    const sealer = createSessionSealer({ secret: "a".repeat(32) });
    const { token, session } = await sealer.seal({ apiKey, keyPrefix: keyPrefixOf(apiKey) });
    expect(token).not.toContain("0123456789abcdef");
    expect(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()).not.toContain("abcdef");
    expect(await sealer.open(token)).toEqual(session);
    expect(session.keyPrefix).toBe("noa_abcdefghij");
  });

  it("refuses tokens sealed with another secret, tampered with, or expired", async () => {
    let now = Date.now();
    const sealer = createSessionSealer({ secret: "a".repeat(32), ttlSeconds: 60, now: () => now });
    const { token } = await sealer.seal({ apiKey, keyPrefix: "noa_x" });
    const other = createSessionSealer({ secret: "b".repeat(32) });
    expect(await other.open(token)).toBeUndefined();
    const parts = token.split(".");
    parts[3] = `${parts[3]?.slice(0, -2)}AA`;
    expect(await sealer.open(parts.join("."))).toBeUndefined();
    now += 61_000;
    expect(await sealer.open(token)).toBeUndefined();
    expect(await sealer.open(undefined)).toBeUndefined();
  });
});
