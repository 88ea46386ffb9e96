import { InvalidArgumentError } from "commander";

/** The largest value of a proto `int32` field (e.g. `max_tokens`): larger ones cannot be sent at all. */
export const int32Max = 2 ** 31 - 1;
/** The largest value of a proto `uint32` field (e.g. `seed`, `request_burst`). */
export const uint32Max = 2 ** 32 - 1;

/**
 * Commander option parser for a whole number in [min, max]; a bad value is a usage error naming the range.
 * `max` is required: every integer option goes into a proto field of fixed width, whose limit it must name.
 */
export function integerIn(min: number, max: number) {
  return (raw: string): number => {
    const value = Number(raw);
    if (raw.trim() === "" || !Number.isInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}.`);
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
