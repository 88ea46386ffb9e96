import { describe, expect, it } from "vitest";
import { createMemorySessionRevocations } from "./memory-session-revocations.js";

describe("createMemorySessionRevocations", () => {
  it("says a revoked session is revoked until it would have expired, and no other", async () => {
    let time = 1_000_000;
    const revocations = createMemorySessionRevocations({ now: () => time });
    await revocations.revoke("s1", time + 60_000);
    expect(await revocations.isRevoked("s1")).toBe(true);
    expect(await revocations.isRevoked("s2")).toBe(false);
    time += 60_000;
    expect(await revocations.isRevoked("s1")).toBe(false);
  });
});
