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

/** Characters that can start something `sensitive` matches; text without any skips the regex. */
const worthScanning = /[@\d]|Bearer|eyJ/;

/** `text` with credentials and personal data replaced by `[redacted:<kind>]`. */
export function maskSensitiveText(text: string): string {
  if (!worthScanning.test(text)) return text;
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
