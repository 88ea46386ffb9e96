/** How one request of a load run ended: as intended, refused as intended, or anything else. */
export type LoadOutcome = "ok" | "expected-error" | "unexpected-error";

/** Counts and latencies of one kind of request. */
export interface KindSummary {
  sent: number;
  ok: number;
  expectedErrors: number;
  unexpectedErrors: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * Tallies a load run: requests sent per kind, how each ended and how long it took, and the first
 * unexpected errors in full (so a failing run says what went wrong, not just how often).
 */
export function createLoadRecorder(options: { keepErrors?: number } = {}) {
  const { keepErrors = 20 } = options;
  const kinds = new Map<string, { latencies: number[]; ok: number; expected: number; unexpected: number }>();
  const unexpected: Array<{ kind: string; error: string }> = [];

  const kindOf = (kind: string) => {
    let entry = kinds.get(kind);
    if (!entry) {
      entry = { latencies: [], ok: 0, expected: 0, unexpected: 0 };
      kinds.set(kind, entry);
    }
    return entry;
  };

  return {
    /** Runs one request of `kind`, timing it; `run` returns whether it was refused as intended. */
    async measure(kind: string, run: () => Promise<LoadOutcome>): Promise<LoadOutcome> {
      const entry = kindOf(kind);
      const started = performance.now();
      let outcome: LoadOutcome;
      try {
        outcome = await run();
      } catch (error) {
        outcome = "unexpected-error";
        if (unexpected.length < keepErrors) unexpected.push({ kind, error: describe(error) });
      }
      entry.latencies.push(performance.now() - started);
      if (outcome === "ok") entry.ok++;
      else if (outcome === "expected-error") entry.expected++;
      else entry.unexpected++;
      return outcome;
    },
    /** Counts a failure found after the request itself (e.g. a job that never completed). */
    fail(kind: string, error: unknown) {
      kindOf(kind).unexpected++;
      if (unexpected.length < keepErrors) unexpected.push({ kind, error: describe(error) });
    },
    /** The first unexpected errors, described. */
    unexpectedErrors: () => [...unexpected],
    summary() {
      const perKind: Record<string, KindSummary> = {};
      const all: number[] = [];
      let sent = 0;
      let expectedErrors = 0;
      let unexpectedErrors = 0;
      for (const [kind, entry] of [...kinds].sort(([a], [b]) => a.localeCompare(b))) {
        all.push(...entry.latencies);
        sent += entry.latencies.length;
        expectedErrors += entry.expected;
        unexpectedErrors += entry.unexpected;
        perKind[kind] = {
          sent: entry.latencies.length,
          ok: entry.ok,
          expectedErrors: entry.expected,
          unexpectedErrors: entry.unexpected,
          p50Ms: percentile(entry.latencies, 0.5),
          p99Ms: percentile(entry.latencies, 0.99),
        };
      }
      return {
        sent,
        expectedErrors,
        unexpectedErrors,
        p50Ms: percentile(all, 0.5),
        p99Ms: percentile(all, 0.99),
        perKind,
      };
    },
  };
}

/** The nearest-rank percentile of `values` in milliseconds, one decimal; 0 for none. */
export function percentile(values: readonly number[], fraction: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return Math.round((sorted[rank] as number) * 10) / 10;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${error.name}${code === undefined ? "" : ` (${String(code)})`}: ${error.message}`.slice(0, 500);
  }
  return String(error).slice(0, 500);
}
