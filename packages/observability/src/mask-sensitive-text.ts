/**
 * Secrets and personal data that free text (an error message, a URL, a header echoed by an upstream)
 * may carry, found by shape: credentials first (NOA keys, vendor keys, bearer tokens, JWTs), then
 * e-mail addresses, card numbers (13–19 digits passing the Luhn check, spaces or dashes allowed) and
 * phone numbers (an optional `+`, then 7–15 digits with the usual separators).
 */
const sensitive = new RegExp(
  [
    /(?<key>\b(?:noa|sk(?:-ant)?(?:-[a-z]+)?)[-_][A-Za-z0-9_-]{16,})/.source,
    /(?<bearer>\bBearer\s+[A-Za-z0-9._~+/=-]+)/.source,
    /(?<jwt>\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)/.source,
    /(?<email>[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})/.source,
    // Whole tokens only: digits inside an id (a UUID, a hex hash) are not a number.
    /(?<![\w.+-])(?<digits>\+?\(?\d(?:[\d\s().-]{5,22}\d))(?![\w-])/.source,
  ].join("|"),
  "g",
);

/** `text` with credentials and personal data replaced by `[redacted:<kind>]`. */
export function maskSensitiveText(text: string): string {
  return mayHoldSensitive(text) ? maskMatches(text) : text;
}

/** What maskSensitiveText returns, without its first check (every text goes through the expression). */
export function maskMatches(text: string): string {
  return text.replace(sensitive, (match, ...args) => {
    const groups = args.at(-1) as Record<string, string | undefined>;
    if (groups.key) return "[redacted:key]";
    if (groups.bearer) return "Bearer [redacted:token]";
    if (groups.jwt) return "[redacted:token]";
    if (groups.email) return "[redacted:email]";
    const digits = match.replace(/\D/g, "");
    if (digits.length >= 13 && digits.length <= 19 && passesLuhn(digits)) return "[redacted:card]";
    if (digits.length >= 7 && digits.length <= 15 && looksLikePhone(match)) return "[redacted:phone]";
    return match;
  });
}

/**
 * False only when `sensitive` cannot match anything in `text`: no `@`, `Bearer`, `eyJ`, `noa`/`sk` before
 * `-` or `_`, and no run of number characters (digits, whitespace, `()+-.`) holding 7 digits, the fewest
 * a phone number has, counted from where a number may begin (not right after a letter, digit, `_`, `.`,
 * `+` or `-`, as the expression's look-behind says) up to a digit where a number may end (not right
 * before a letter, digit, `_` or `-`, as its look-ahead says). One pass over the characters, so that ids
 * (a UUID's digit groups follow a letter or a dash, and end before one), routes and model names, most of
 * what a log line holds, skip the expression.
 */
function mayHoldSensitive(text: string): boolean {
  let digits = 0;
  // Whether the current run of number characters is counted: a number may begin in it.
  let counting = false;
  let previous = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    const kind = code < 128 ? (kinds[code] as number) : numberCharacter;
    if (kind & numberCharacter) {
      if (!counting && kind & numberStart && !(previous & precludesNumber)) {
        counting = true;
        digits = 0;
      }
      // The expression's look-ahead: a number ends at a digit not followed by a word character or `-`
      // (a UUID's digits never do: each is followed by a digit, a letter or a dash).
      if (counting && kind & digit && ++digits >= 7 && !continuesWord(text, index + 1)) return true;
    } else {
      counting = false;
      if (kind & shapeStart && startsShape(text, index, code)) return true;
    }
    previous = kind;
  }
  return false;
}

/** A character a number may hold between its digits: digits, whitespace, `()+-.` (and, to stay safe, any non-ASCII one). */
const numberCharacter = 1;
const digit = 2;
/** A character a number begins with: a digit, `+` or `(`. */
const numberStart = 4;
/** The expression's look-behind: a number never begins right after a word character, `.`, `+` or `-`. */
const precludesNumber = 8;
/** The first character of the other shapes: `@`, `Bearer`, `eyJ`, `noa-`, `sk-`. */
const shapeStart = 16;
/** The expression's look-ahead: a number never ends right before a word character or `-`. */
const wordOrDash = 32;

/** Each ASCII character's kinds, as bits. */
const kinds = (() => {
  const table = new Uint8Array(128);
  const mark = (characters: string, bits: number) => {
    for (let index = 0; index < characters.length; index++) {
      const code = characters.charCodeAt(index);
      table[code] = (table[code] as number) | bits;
    }
  };
  const digits = "0123456789";
  mark(`${digits} ()+-.\t\n\v\f\r`, numberCharacter);
  mark(digits, digit | numberStart | precludesNumber);
  mark("+(", numberStart);
  mark("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_.+-", precludesNumber);
  mark("@Bens", shapeStart);
  mark(`${digits}ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-`, wordOrDash);
  return table;
})();

/** Whether the shape `code` (at `index`) may begin is there: `@`, `Bearer`, `eyJ`, `noa-`/`noa_`, `sk-`/`sk_`. */
function startsShape(text: string, index: number, code: number): boolean {
  switch (code) {
    case 64: // @
      return true;
    case 66: // Bearer
      return text.startsWith("earer", index + 1);
    case 101: // eyJ
      return text.startsWith("yJ", index + 1);
    case 110: // noa- or noa_
      return text.startsWith("oa", index + 1) && isDashOrUnderscore(text.charCodeAt(index + 3));
    default: // sk- or sk_
      return text.charCodeAt(index + 1) === 107 && isDashOrUnderscore(text.charCodeAt(index + 2));
  }
}

/** Whether the character at `index` (if any) is a word character or `-` (ASCII only, as `\w` without the `u` flag). */
function continuesWord(text: string, index: number): boolean {
  const code = text.charCodeAt(index);
  return code < 128 && ((kinds[code] as number) & wordOrDash) !== 0;
}

function isDashOrUnderscore(code: number): boolean {
  return code === 45 || code === 95;
}

/** The Luhn checksum every payment card number satisfies. */
export function passesLuhn(digits: string): boolean {
  let sum = 0;
  for (let index = 0; index < digits.length; index++) {
    let digit = digits.charCodeAt(digits.length - 1 - index) - 48;
    if (index % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/**
 * A phone number rather than a count, a duration or a date: it starts with `+` or `(`, or its digits
 * are grouped by separators (`555-123-4567`, `020 7946 0958`). A bare run of digits is left alone.
 */
function looksLikePhone(text: string): boolean {
  if (/^[+(]/.test(text)) return true;
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) return false;
  return /\d[\s.-]\d/.test(text) && !/^\d+(?:\.\d+)?$/.test(text);
}
