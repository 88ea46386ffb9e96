import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { finiteNumber, int32Max, integerIn, uint32Max } from "./parse-number.js";

describe("integerIn", () => {
  it("accepts whole numbers up to the bound of the proto field they go into", () => {
    expect(integerIn(1, int32Max)("2147483647")).toBe(2_147_483_647);
    expect(integerIn(0, uint32Max)("4294967295")).toBe(4_294_967_295);
    expect(integerIn(0, uint32Max)("0")).toBe(0);
  });

  it.each([
    ["99999999999", 1, int32Max, "expected a whole number from 1 to 2147483647."],
    ["2147483648", 1, int32Max, "expected a whole number from 1 to 2147483647."],
    ["4294967296", 0, uint32Max, "expected a whole number from 0 to 4294967295."],
    ["0", 1, int32Max, "expected a whole number from 1 to 2147483647."],
    ["1.5", 1, int32Max, "expected a whole number from 1 to 2147483647."],
    ["abc", 1, int32Max, "expected a whole number from 1 to 2147483647."],
    ["", 0, uint32Max, "expected a whole number from 0 to 4294967295."],
  ])("refuses %j, naming the range", (raw, min, max, message) => {
    const parse = integerIn(min, max);
    expect(() => parse(raw)).toThrow(InvalidArgumentError);
    expect(() => parse(raw)).toThrow(message);
  });
});

describe("finiteNumber", () => {
  it("accepts decimals and refuses what is not a number", () => {
    expect(finiteNumber("0.7")).toBe(0.7);
    expect(() => finiteNumber("")).toThrow("expected a number.");
    expect(() => finiteNumber("Infinity")).toThrow("expected a number.");
  });
});
