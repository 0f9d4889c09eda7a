import type { Metric, MetricObjectWithValues, MetricType, MetricValueWithName } from 'prom-client';

/**
 * One series of a latency histogram: bucket counts in a typed array, so an
 * observation is a short scan and three additions. prom-client's own
 * `histogram.labels(...).observe(v)` validates and hashes the labels on every
 * call; per connection, that was the largest JavaScript cost left on the
 * connection path (issue #11).
 */
export class BucketSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  readonly #bounds: readonly number[];

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    if (i < bounds.length) this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.sum += value;
    this.count++;
  }
}

/**
 * A Prometheus histogram whose series live elsewhere (`BucketSeries`) and
 * are read at scrape time through `series()`. Registered in a prom-client
 * Registry like its own metrics, with the same exposition (cumulative
 * `_bucket{le}`, `_sum`, `_count`) and the same JSON for worker aggregation.
 */
export class BucketHistogram<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram' as unknown as MetricType;
  readonly aggregator = 'sum' as const;
  readonly bounds: readonly number[];
  readonly #series: () => Iterable<{ labels: Record<L, string>; series: BucketSeries }>;

  constructor(opts: {
    name: string;
    help: string;
    bounds: readonly number[];
    series: () => Iterable<{ labels: Record<L, string>; series: BucketSeries }>;
  }) {
    this.name = opts.name;
    this.help = opts.help;
    this.bounds = opts.bounds;
    this.#series = opts.series;
  }

  get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    const values: MetricValueWithName<string>[] = [];
    const bucket = `${this.name}_bucket`;
    for (const { labels, series } of this.#series()) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += series.counts[i] ?? 0;
        values.push({
          metricName: bucket,
          labels: { le: this.bounds[i], ...labels },
          value: acc,
        });
      }
      values.push({ metricName: bucket, labels: { le: '+Inf', ...labels }, value: series.count });
      values.push({ metricName: `${this.name}_sum`, labels, value: series.sum });
      values.push({ metricName: `${this.name}_count`, labels, value: series.count });
    }
    // prom-client's type asks for `collect` too; its registry reads only these fields.
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      values,
      aggregator: this.aggregator,
    } as unknown as MetricObjectWithValues<MetricValueWithName<string>>);
  }

  reset(): void {
    // Series belong to their owners; a registry reset has nothing to clear here.
  }

  /** For Registry.registerMetric, which takes prom-client's own metric classes. */
  asMetric(): Metric {
    return this as unknown as Metric;
  }
}
