import { describe, expect, it } from "vitest";
import { correlationIdFrom } from "./correlation-id-from.js";

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("correlationIdFrom", () => {
  it("keeps a caller's short token, the first of repeated headers", () => {
    expect(correlationIdFrom("order-42:retry.1_a")).toBe("order-42:retry.1_a");
    expect(correlationIdFrom(["first-id", "second-id"])).toBe("first-id");
  });

  it("makes a new UUID for a missing, empty, over-long or unsafe one (it goes into logs and headers as is)", () => {
    for (const unsafe of [undefined, "", "x".repeat(129), "a b", 'a"b', "line\nbreak", "<script>"]) {
      expect(correlationIdFrom(unsafe)).toMatch(uuid);
    }
    expect(correlationIdFrom(undefined)).not.toBe(correlationIdFrom(undefined));
  });
});
