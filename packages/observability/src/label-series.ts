const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** One value per label name, in the order the metric declared its label names. */
export type LabelValues<L extends readonly string[]> = { readonly [K in keyof L]: string };

/** The labels of one series as prom-client's registry formats them (keys in declared order). */
export type SeriesLabels = Readonly<Record<string, string>>;

/**
 * The series of one metric, found by their label values with one `Map` level per label: a lookup
 * builds no key string and no labels object, which is what makes recording cheap. The labels object is
 * built (and frozen) once, when a series is first seen; `all` keeps first-seen order, as prom-client does.
 * Names follow https://prometheus.io/docs/concepts/data_model/#metric-names-and-labels and are checked
 * here, once.
 */
export class LabelSeries<S> {
  readonly labelNames: readonly string[];
  readonly #metric: string;
  readonly #create: (labels: SeriesLabels) => S;
  #root = new Map<string, unknown>();
  #unlabeled: S | undefined;
  #all: S[] = [];

  constructor(metric: string, labelNames: readonly string[], create: (labels: SeriesLabels) => S) {
    if (!metricName.test(metric)) throw new Error(`Invalid metric name: ${JSON.stringify(metric)}`);
    for (const name of labelNames) {
      // `__` names are Prometheus's own, and `__proto__` would not survive as an object key.
      if (!labelName.test(name) || name.startsWith("__")) {
        throw new Error(`${metric}: invalid label name ${JSON.stringify(name)}`);
      }
    }
    if (new Set(labelNames).size !== labelNames.length) throw new Error(`${metric}: duplicate label names`);
    this.#metric = metric;
    this.labelNames = [...labelNames];
    this.#create = create;
  }

  /** The series for these label values, created when first seen. */
  get(values: readonly string[]): S {
    const last = this.labelNames.length - 1;
    if (values.length !== last + 1) {
      throw new Error(`${this.#metric}: ${values.length} label values for ${last + 1} label names`);
    }
    if (last === -1) return this.#unlabeled ?? this.#add(values);
    let level = this.#root;
    for (let i = 0; i < last; i++) {
      const next = level.get(values[i] as string) as Map<string, unknown> | undefined;
      if (next === undefined) return this.#add(values);
      level = next;
    }
    return (level.get(values[last] as string) as S | undefined) ?? this.#add(values);
  }

  /** Every series, in the order they were first seen. */
  get all(): readonly S[] {
    return this.#all;
  }

  /** Forgets every series. */
  clear(): void {
    this.#root = new Map();
    this.#unlabeled = undefined;
    this.#all = [];
  }

  #add(values: readonly string[]): S {
    const labels: Record<string, string> = {};
    for (const [i, name] of this.labelNames.entries()) {
      const value = values[i];
      // Checked here only: a value that is not a string never enters the index, so it always lands here.
      if (typeof value !== "string") {
        throw new TypeError(`${this.#metric}: label ${name} must be a string, got ${typeof value}`);
      }
      labels[name] = value;
    }
    const series = this.#create(Object.freeze(labels));
    this.#all.push(series);
    const last = values.length - 1;
    if (last === -1) {
      this.#unlabeled = series;
      return series;
    }
    let level = this.#root;
    for (let i = 0; i < last; i++) {
      const value = values[i] as string;
      let next = level.get(value) as Map<string, unknown> | undefined;
      if (next === undefined) {
        next = new Map();
        level.set(value, next);
      }
      level = next;
    }
    level.set(values[last] as string, series);
    return series;
  }
}
