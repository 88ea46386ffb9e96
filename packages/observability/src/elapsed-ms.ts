/** Milliseconds since `started` (a `performance.now()`), to a tenth, as log lines and reports write them. */
export function elapsedMs(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}
