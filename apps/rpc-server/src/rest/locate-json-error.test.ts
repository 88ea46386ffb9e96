import { describe, expect, it } from "vitest";
import { locateJsonError } from "./locate-json-error.js";

describe("locateJsonError", () => {
  it.each([
    '{"a": [1, -2.5e3, true, false, null, "x\\n\\u00e9"], "b": {}}',
    "[]",
    ' "text" ',
    "0",
    '{"nested": [[[{"deep": []}]]]}',
  ])("finds nothing wrong in %s", (text) => {
    expect(() => JSON.parse(text)).not.toThrow();
    expect(locateJsonError(text)).toBeUndefined();
  });

  it.each([
    ['{"a": }', 1, 7, 'expected a value, found "}"'],
    ['{"a": 1,}', 1, 9, 'expected a property name in double quotes, found "}"'],
    ["[1, 2,]", 1, 7, 'expected a value, found "]"'],
    ['{"a" 1}', 1, 6, 'expected ":" after the property name, found "1"'],
    ['{"a": 1 "b": 2}', 1, 9, 'expected "," or "}", found "\\""'],
    ["{'a': 1}", 1, 2, 'expected a property name in double quotes, found "\'"'],
    ['{\n  "model": "x",\n  "messages": [\n}', 4, 1, 'expected a value, found "}"'],
    ['{"a": "unterminated', 1, 7, 'the string is not closed (missing ")'],
    ['{"a": "bad \\x escape"}', 1, 12, 'invalid escape "\\x" in a string'],
    ['{"a": 01}', 1, 8, 'expected "," or "}", found "1"'],
    ['{"a": -}', 1, 7, "invalid number"],
    ['{"a": tru}', 1, 7, 'expected a value, found "t"'],
    ['{"a": 1} x', 1, 10, 'unexpected "x" after the end of the JSON value'],
    ['{"a": [1, 2', 1, 12, 'expected "," or "]", found the end of the body'],
    ["", 1, 1, "expected a value, found the end of the body"],
  ])("locates the error in %j", (text, line, column, problem) => {
    expect(() => JSON.parse(text)).toThrow();
    expect(locateJsonError(text)).toEqual({ line, column, position: expect.any(Number), problem });
  });

  it("handles nesting far deeper than the call stack allows", () => {
    const deep = `${"[".repeat(200_000)}1${"]".repeat(199_999)}`;
    expect(locateJsonError(deep)?.problem).toBe('expected "," or "]", found the end of the body');
  });
});
