/** Where a JSON text first breaks the grammar, for an error message a person can act on. */
export interface JsonErrorLocation {
  /** 0-based offset in the text (UTF-16 units). */
  position: number;
  /** 1-based line and column. */
  line: number;
  column: number;
  /** What was expected and what was found, e.g. `expected a value, found "}"`. */
  problem: string;
}

const escapes = new Set(['"', "\\", "/", "b", "f", "n", "r", "t"]);
const numberPattern = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const hex4 = /[0-9a-fA-F]{4}/y;

/**
 * Scans `text` against the JSON grammar (RFC 8259) and returns where it first goes wrong, or undefined
 * when it is valid. Run only after JSON.parse failed: V8's messages do not always carry a position, and
 * parsing them would tie us to their wording. Iterative, so deep nesting cannot overflow the stack.
 */
export function locateJsonError(text: string): JsonErrorLocation | undefined {
  const stack: Array<"[" | "{"> = [];
  let i = 0;

  const fail = (problem: string, at = i): JsonErrorLocation => {
    let line = 1;
    let lineStart = 0;
    for (let k = 0; k < at; k++) {
      if (text.charCodeAt(k) === 10) {
        line++;
        lineStart = k + 1;
      }
    }
    return { position: at, line, column: at - lineStart + 1, problem };
  };
  const found = () => (i >= text.length ? "the end of the body" : JSON.stringify(text[i]));
  const skipWhitespace = () => {
    while (i < text.length && " \t\n\r".includes(text[i] as string)) i++;
  };
  /** Reads a string starting at its opening quote; returns a failure or undefined. */
  const readString = (): JsonErrorLocation | undefined => {
    const start = i;
    i++;
    while (i < text.length) {
      const char = text[i] as string;
      if (char === '"') {
        i++;
        return undefined;
      }
      if (char.charCodeAt(0) < 0x20)
        return fail("a control character (such as a newline) in a string must be escaped");
      if (char === "\\") {
        const next = text[i + 1];
        if (next === "u") {
          hex4.lastIndex = i + 2;
          if (!hex4.test(text)) return fail("\\u must be followed by four hex digits");
          i += 6;
          continue;
        }
        if (next === undefined || !escapes.has(next))
          return fail(`invalid escape "\\${next ?? ""}" in a string`);
        i += 2;
        continue;
      }
      i++;
    }
    return fail('the string is not closed (missing ")', start);
  };
  /** Reads one scalar or opens a container; returns a failure or undefined. */
  const readValue = (): JsonErrorLocation | undefined => {
    skipWhitespace();
    const char = text[i];
    if (char === "{" || char === "[") {
      stack.push(char);
      i++;
      return undefined;
    }
    if (char === '"') return readString();
    for (const literal of ["true", "false", "null"]) {
      if (text.startsWith(literal, i)) {
        i += literal.length;
        return undefined;
      }
    }
    if (char === "-" || (char !== undefined && char >= "0" && char <= "9")) {
      numberPattern.lastIndex = i;
      if (numberPattern.test(text)) {
        i = numberPattern.lastIndex;
        return undefined;
      }
      return fail("invalid number");
    }
    return fail(`expected a value, found ${found()}`);
  };
  /** Inside an object, before a key: reads `"key":` */
  const readKey = (): JsonErrorLocation | undefined => {
    skipWhitespace();
    if (text[i] !== '"') return fail(`expected a property name in double quotes, found ${found()}`);
    const failure = readString();
    if (failure) return failure;
    skipWhitespace();
    if (text[i] !== ":") return fail(`expected ":" after the property name, found ${found()}`);
    i++;
    return undefined;
  };

  // Between values: either a value is next (after `[`, `:` or `,`) or one has just ended.
  let afterValue = false;
  for (;;) {
    if (!afterValue) {
      skipWhitespace();
      const opened = text[i];
      const failure = readValue();
      if (failure) return failure;
      afterValue = true;
      if (opened !== "{" && opened !== "[") continue;
      skipWhitespace();
      if (text[i] === (opened === "{" ? "}" : "]")) {
        stack.pop();
        i++;
        continue;
      }
      afterValue = false;
      if (opened === "{") {
        const keyFailure = readKey();
        if (keyFailure) return keyFailure;
      }
      continue;
    }
    skipWhitespace();
    const top = stack.at(-1);
    if (top === undefined) {
      return i < text.length ? fail(`unexpected ${found()} after the end of the JSON value`) : undefined;
    }
    const close = top === "{" ? "}" : "]";
    if (text[i] === close) {
      stack.pop();
      i++;
      continue;
    }
    if (text[i] !== ",") return fail(`expected "," or "${close}", found ${found()}`);
    i++;
    afterValue = false;
    if (top === "{") {
      const keyFailure = readKey();
      if (keyFailure) return keyFailure;
    }
  }
}
