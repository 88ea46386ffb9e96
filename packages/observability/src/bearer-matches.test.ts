import { describe, expect, it } from "vitest";
import { bearerMatches } from "./bearer-matches.js";

describe("bearerMatches", () => {
  const token = "metrics-token-123";

  it("accepts the token under the Bearer scheme in any case, as the API does (RFC 9110 §11.1)", () => {
    for (const scheme of ["Bearer", "bearer", "BEARER", "bEaReR"]) {
      expect(bearerMatches(`${scheme} ${token}`, token)).toBe(true);
    }
    expect(bearerMatches(`Bearer \t${token} `, token)).toBe(true);
  });

  it("refuses a missing header, another scheme, another token, or a token that only starts alike", () => {
    for (const header of [
      undefined,
      "",
      token,
      `Basic ${token}`,
      `Bearer${token}`,
      `Bearer ${token}x`,
      `Bearer ${token.slice(0, -1)}`,
      `Bearer ${token} extra`,
    ]) {
      expect(bearerMatches(header, token)).toBe(false);
    }
  });
});
