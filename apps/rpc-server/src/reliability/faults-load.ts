import type { CallResult } from "./faults-calls.js";

/** A load in progress: results so far, the phase new calls are tagged with, and how to stop it. */
export interface Load {
  results: CallResult[];
  setPhase(phase: string): void;
  /** Calls started so far (finished or not). */
  started(): number;
  /** Milliseconds since the load started (the clock of `startedAt`). */
  elapsed(): number;
  /** Stops starting calls and waits for the running ones to end. */
  stop(): Promise<CallResult[]>;
}

/**
 * Runs `concurrency` loops that each start one call after another (`call(n)` for the n-th call overall)
 * until `stop()`, tagging each result with the phase current when the call started.
 */
export function startLoad(options: {
  concurrency: number;
  call: (n: number) => Promise<Omit<CallResult, "n" | "startedAt" | "phase">>;
  /** Pause between one loop's calls, to keep the load steady rather than saturating 2 cores. */
  pauseMs?: number;
  /** The first calls' phase; `before` by default. */
  phase?: string;
}): Load {
  const { concurrency, call, pauseMs = 0 } = options;
  const results: CallResult[] = [];
  const loadStarted = performance.now();
  let phase = options.phase ?? "before";
  let stopping = false;
  let next = 0;
  const loops = Array.from({ length: concurrency }, async () => {
    while (!stopping) {
      const n = next++;
      const callPhase = phase;
      const startedAt = Math.round(performance.now() - loadStarted);
      const started = performance.now();
      const result = await call(n).catch(
        (error: unknown): Omit<CallResult, "n" | "startedAt" | "phase"> => ({
          // A call function that throws is a bug of the test: counted, never lost.
          id: `call-${n}`,
          face: "rest",
          ok: false,
          error: "call-threw",
          detail: String(error),
          tokens: 0,
          ms: Math.round(performance.now() - started),
        }),
      );
      results.push({ ...result, n, startedAt, phase: callPhase });
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  });
  const all = Promise.all(loops);
  return {
    results,
    setPhase: (value) => {
      phase = value;
    },
    started: () => next,
    elapsed: () => Math.round(performance.now() - loadStarted),
    async stop() {
      stopping = true;
      await all;
      return results;
    },
  };
}

/** One case's figures for docs/reliability.md. */
export interface ReliabilitySummary {
  case: string;
  requests: number;
  ok: number;
  expectedErrors: number;
  unexpectedErrors: number;
  /** Error names and how often, expected and unexpected together. */
  errors: Record<string, number>;
  usageRecordsExpected?: number;
  usageRecordsWritten?: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  [more: string]: unknown;
}

/**
 * Counts results (an error is expected when `isExpected` says so), prints one
 * `reliability-summary {json}` line and returns the figures with the unexpected results themselves.
 */
export function summarize(
  name: string,
  results: CallResult[],
  isExpected: (result: CallResult) => boolean,
  extra: Partial<ReliabilitySummary> = {},
): { summary: ReliabilitySummary; unexpected: CallResult[] } {
  const failed = results.filter((result) => !result.ok);
  const unexpected = failed.filter((result) => !isExpected(result));
  const errors: Record<string, number> = {};
  for (const result of failed) {
    const key = `${result.face}: ${result.error}`;
    errors[key] = (errors[key] ?? 0) + 1;
  }
  const latencies = results.map((result) => result.ms).sort((a, b) => a - b);
  const percentile = (p: number) =>
    latencies.length === 0
      ? 0
      : (latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)] ?? 0);
  const summary: ReliabilitySummary = {
    case: name,
    requests: results.length,
    ok: results.length - failed.length,
    expectedErrors: failed.length - unexpected.length,
    unexpectedErrors: unexpected.length,
    errors,
    p50Ms: percentile(0.5),
    p99Ms: percentile(0.99),
    maxMs: latencies.at(-1) ?? 0,
    ...extra,
  };
  console.log("reliability-summary", JSON.stringify(summary));
  return { summary, unexpected };
}
