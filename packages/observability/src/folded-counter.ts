import type { Metric, OpenMetricsContentType, PrometheusContentType, Registry } from "prom-client";
import { LabelSeries, type LabelValues, type SeriesLabels } from "./label-series.js";

/** What a FoldedCounter is made from; the same fields as prom-client's CounterConfiguration. */
export interface FoldedCounterConfig<L extends readonly string[]> {
  name: string;
  help: string;
  labelNames?: L;
  /** Registries it is scraped from; required, so it never lands in prom-client's global default. */
  registers: ReadonlyArray<Registry<PrometheusContentType> | Registry<OpenMetricsContentType>>;
}

class CounterSeries {
  value = 0;
  constructor(readonly labels: SeriesLabels) {}
}

/**
 * A Prometheus counter for the request path: `inc(["GET", "/v1/models", "200"])` finds its series by
 * label values (no labels object hashed and validated per call, as prom-client's Counter does) and
 * renders on `registry.metrics()` exactly as prom-client's Counter would. Registered as a duck-typed
 * metric (name, help, type, aggregator, get, reset), so `resetMetrics()` and `getMetricsAsJSON()` work.
 * Label values must be bounded; a non-finite increment throws TypeError and a negative one Error, as in
 * prom-client (which lets NaN through and poisons the series; this does not).
 */
export class FoldedCounter<const L extends readonly string[] = readonly []> {
  readonly type = "counter";
  readonly aggregator = "sum";
  /** Writable: an OpenMetrics registry strips `_total` from a counter's name. */
  name: string;
  readonly help: string;
  readonly labelNames: L;
  readonly #series: LabelSeries<CounterSeries>;

  constructor({ name, help, labelNames = [] as unknown as L, registers }: FoldedCounterConfig<L>) {
    if (!help) throw new Error(`${name}: help is required`);
    this.#series = new LabelSeries(name, labelNames, (labels) => new CounterSeries(labels));
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
    this.reset();
    // prom-client's type names its own classes; its registry only reads the members above.
    for (const registry of registers) registry.registerMetric(this as unknown as Metric);
  }

  /** Adds `by` (default 1) to the series with these label values, in `labelNames` order. */
  inc(labelValues: LabelValues<L>, by = 1): void {
    if (!Number.isFinite(by)) throw new TypeError(`Value is not a valid number: ${by}`);
    if (by < 0) throw new Error("It is not possible to decrease a counter");
    this.#series.get(labelValues).value += by;
  }

  /** Back to no series; an unlabelled counter shows 0, as prom-client's does. */
  reset(): void {
    this.#series.clear();
    if (this.labelNames.length === 0) this.#series.get([]);
  }

  /** What prom-client's registry formats (and `getMetricsAsJSON()` returns). */
  async get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values: this.#series.all.map(({ value, labels }) => ({ value, labels })),
      aggregator: this.aggregator,
    };
  }
}
