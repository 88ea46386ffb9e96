import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { parseExpiry } from "./parse-expiry.js";

const now = Date.parse("2030-01-01T00:00:00.000Z");

describe("parseExpiry", () => {
  it.each([
    ["45s", "2030-01-01T00:00:45.000Z"],
    ["90m", "2030-01-01T01:30:00.000Z"],
    ["12h", "2030-01-01T12:00:00.000Z"],
    ["30d", "2030-01-31T00:00:00.000Z"],
    ["2031-06-01T12:00:00Z", "2031-06-01T12:00:00.000Z"],
    ["2031-06-01T12:00:00.250+02:00", "2031-06-01T10:00:00.250Z"],
    // Past times parse: the server refuses them, saying so.
    ["2020-01-01T00:00:00Z", "2020-01-01T00:00:00.000Z"],
  ])("reads %j", (raw, expected) => {
    expect(parseExpiry(raw, now).toISOString()).toBe(expected);
  });

  it.each([
    "soon",
    "",
    "0d",
    "-5m",
    "1.5h",
    "7w",
    "2031-06-01",
    "2031-06-01T12:00:00",
    "2031-13-01T00:00:00Z",
  ])("refuses %j, saying what to write", (raw) => {
    expect(() => parseExpiry(raw, now)).toThrow(InvalidArgumentError);
    expect(() => parseExpiry(raw, now)).toThrow(
      "expected a duration from now such as 90m, 12h or 30d, or an RFC 3339 time such as 2030-01-01T00:00:00Z.",
    );
  });
});
