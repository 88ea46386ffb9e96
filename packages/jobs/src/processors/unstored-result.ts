import type { JsonValue } from "../job-record.js";

/**
 * What the processor hands BullMQ as a completed job's return value when the database would not take the
 * result: BullMQ keeps it with the completed job, and the workers' sweep stores it from there, so the
 * finished generation is neither lost nor run (and charged) again.
 */
export interface UnstoredResult {
  unstoredResult: { result: JsonValue; finishedAt: string };
}

/** The unstored result in a completed BullMQ job's return value; undefined for any other value. */
export function unstoredResultOf(returnvalue: unknown): UnstoredResult["unstoredResult"] | undefined {
  if (typeof returnvalue !== "object" || returnvalue === null || !("unstoredResult" in returnvalue)) {
    return undefined;
  }
  const unstored = (returnvalue as UnstoredResult).unstoredResult;
  return typeof unstored?.finishedAt === "string" ? unstored : undefined;
}
