import { InvalidArgumentError } from "commander";

/** Commander option parser for a whole number in [min, max]; a bad value is a usage error naming the range. */
export function integerIn(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (raw: string): number => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(
        `expected a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : " up"}.`,
      );
    }
    return value;
  };
}

/** Commander option parser for any finite number (the server checks ranges and says which). */
export function finiteNumber(raw: string): number {
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value)) throw new InvalidArgumentError("expected a number.");
  return value;
}
