import { InvalidArgumentError } from "commander";

const units = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
// RFC 3339 with its offset: a time without one would be read in the local zone, which a key must not depend on.
const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * Reads `--expires`: a duration from `now` (epoch ms) in whole seconds, minutes, hours or days (`90m`,
 * `12h`, `30d`), or an RFC 3339 time with its offset (`2030-01-01T00:00:00Z`). Anything else is a usage
 * error saying what to write; whether the time is in the future is the server's to say.
 */
export function parseExpiry(raw: string, now: number): Date {
  const text = raw.trim();
  const duration = /^(\d+)([smhd])$/.exec(text);
  if (duration?.[1] !== undefined && duration[2] !== undefined) {
    const ms = Number(duration[1]) * units[duration[2] as keyof typeof units];
    if (ms > 0 && Number.isSafeInteger(now + ms)) return new Date(now + ms);
  } else if (rfc3339.test(text)) {
    const at = new Date(text);
    if (!Number.isNaN(at.getTime())) return at;
  }
  throw new InvalidArgumentError(
    "expected a duration from now such as 90m, 12h or 30d, or an RFC 3339 time such as 2030-01-01T00:00:00Z.",
  );
}
