import type { Metric, OpenMetricsContentType, PrometheusContentType, Registry } from "prom-client";
import { LabelSeries, type LabelValues, type SeriesLabels } from "./label-series.js";

/** What a FoldedHistogram is made from; prom-client's HistogramConfiguration with the buckets required. */
export interface FoldedHistogramConfig<L extends readonly string[]> {
  name: string;
  help: string;
  labelNames?: L;
  /** Upper bounds, finite and increasing; `+Inf` is implied. */
  buckets: readonly number[];
  /** Registries it is scraped from; required, so it never lands in prom-client's global default. */
  registers: ReadonlyArray<Registry<PrometheusContentType> | Registry<OpenMetricsContentType>>;
}

class HistogramSeries {
  sum = 0;
  count = 0;
  constructor(
    readonly labels: SeriesLabels,
    /** Observations per bucket, not cumulated: one increment per observe, cumulated when scraped. */
    readonly counts: Float64Array,
  ) {}
}

/**
 * A Prometheus histogram for the request path: `observe(["GET", "/v1/models", "200"], seconds)` finds
 * its series by label values and increments one bucket, and renders on `registry.metrics()` exactly as
 * prom-client's Histogram would (`_bucket` per bound with `le` first, `+Inf`, `_sum`, `_count`).
 * Registered as a duck-typed metric, so `resetMetrics()` and `getMetricsAsJSON()` work. Label values
 * must be bounded; a non-finite observation throws TypeError, as in prom-client.
 */
export class FoldedHistogram<const L extends readonly string[] = readonly []> {
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly name: string;
  readonly help: string;
  readonly labelNames: L;
  readonly buckets: readonly number[];
  readonly #series: LabelSeries<HistogramSeries>;

  constructor({ name, help, labelNames = [] as unknown as L, buckets, registers }: FoldedHistogramConfig<L>) {
    if (!help) throw new Error(`${name}: help is required`);
    if (labelNames.includes("le")) throw new Error(`${name}: le is a reserved label name`);
    for (const [i, bound] of buckets.entries()) {
      if (!Number.isFinite(bound) || (i > 0 && bound <= (buckets[i - 1] as number))) {
        throw new Error(`${name}: buckets must be finite and increasing`);
      }
    }
    this.buckets = Object.freeze([...buckets]);
    this.#series = new LabelSeries(
      name,
      labelNames,
      (labels) => new HistogramSeries(labels, new Float64Array(this.buckets.length)),
    );
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
    // prom-client's unlabelled histogram starts with its one series; its reset() drops it.
    if (labelNames.length === 0) this.#series.get([]);
    // prom-client's type names its own classes; its registry only reads the members above.
    for (const registry of registers) registry.registerMetric(this as unknown as Metric);
  }

  /** Records `value` in the series with these label values, in `labelNames` order. */
  observe(labelValues: LabelValues<L>, value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    const series = this.#series.get(labelValues);
    const bounds = this.buckets;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    // Above the last bound it counts only in +Inf, which is `count`.
    if (i < bounds.length) series.counts[i] = (series.counts[i] as number) + 1;
    series.sum += value;
    series.count += 1;
  }

  /** Back to no series, as prom-client's reset() leaves a histogram. */
  reset(): void {
    this.#series.clear();
  }

  /** What prom-client's registry formats: bucket labels apart from the series' (`sharedLabels`). */
  async getForPromString() {
    const bucket = `${this.name}_bucket`;
    const sum = `${this.name}_sum`;
    const count = `${this.name}_count`;
    const values: Array<{
      labels: Readonly<Record<string, string | number>>;
      sharedLabels: SeriesLabels;
      value: number;
      metricName: string;
      exemplar: null | undefined;
    }> = [];
    for (const series of this.#series.all) {
      const sharedLabels = series.labels;
      let cumulated = 0;
      for (const [i, le] of this.buckets.entries()) {
        cumulated += series.counts[i] as number;
        values.push({ labels: { le }, sharedLabels, value: cumulated, metricName: bucket, exemplar: null });
      }
      values.push(
        { labels: { le: "+Inf" }, sharedLabels, value: series.count, metricName: bucket, exemplar: null },
        { labels: {}, sharedLabels, value: series.sum, metricName: sum, exemplar: undefined },
        { labels: {}, sharedLabels, value: series.count, metricName: count, exemplar: undefined },
      );
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** The same values with each series' labels merged in after `le` (`getMetricsAsJSON()`). */
  async get() {
    const metric = await this.getForPromString();
    return {
      ...metric,
      values: metric.values.map(({ labels, sharedLabels, ...value }) => ({
        ...value,
        labels: { ...labels, ...sharedLabels },
      })),
    };
  }
}
