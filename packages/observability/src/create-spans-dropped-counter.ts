import { Counter, type Registry } from "prom-client";
import { nothingLost, type Tracing } from "./tracing.js";

/**
 * `noa_trace_spans_dropped_total{reason}` on `registers`, read from `tracing` when scraped: spans that
 * never reached the collector because the batch queue was full (`queue_full`) or their export failed
 * after the exporter's retries (`export_failed`). Both series are always there, 0 while nothing was lost
 * (and without `tracing`: a process that does not trace loses no spans).
 */
export function createSpansDroppedCounter({
  registers,
  tracing,
}: {
  registers: Registry[];
  tracing?: Pick<Tracing, "spansLost">;
}): Counter<"reason"> {
  return new Counter({
    name: "noa_trace_spans_dropped_total",
    help: "Spans not exported, by reason: the batch queue was full (queue_full) or the export failed after retries (export_failed)",
    labelNames: ["reason"],
    registers,
    collect() {
      const { queueFull, exportFailed } = tracing?.spansLost() ?? nothingLost;
      this.reset();
      this.inc({ reason: "queue_full" }, queueFull);
      this.inc({ reason: "export_failed" }, exportFailed);
    },
  });
}
