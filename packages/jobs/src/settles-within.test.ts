import { describe, expect, it } from "vitest";
import { settlesWithin } from "./settles-within.js";

describe("settlesWithin", () => {
  it("says whether a promise resolved in time, and throws its rejection", async () => {
    expect(await settlesWithin(Promise.resolve("done"), 50)).toBe(true);
    expect(await settlesWithin(new Promise(() => {}), 20)).toBe(false);
    await expect(settlesWithin(Promise.reject(new Error("refused")), 50)).rejects.toThrow("refused");
  });
});
