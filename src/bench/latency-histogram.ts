import { build, type Histogram } from 'hdr-histogram-js';

/** The percentiles every report shows, in microseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly minUs: number;
  readonly meanUs: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
}

/** One point of a percentile curve: `percentile` in 0..100, value in microseconds. */
export interface CurvePoint {
  readonly percentile: number;
  readonly valueUs: number;
}

/**
 * Three significant digits keeps every reported value within 0.1 % of the
 * truth (5 ms reads 5000 ± 5 µs) at a few tens of KiB per histogram.
 */
const SIGNIFICANT_DIGITS = 3;
/** Starting range; the histogram grows past it (autoResize) rather than throwing. */
const INITIAL_HIGHEST_US = 60_000_000;
/** Curve resolution: points per decade of `1 / (1 - p)`. */
const CURVE_STEPS_PER_DECADE = 10;
/** Deepest percentile a curve may show: 99.999 %. */
const CURVE_MAX_DECADES = 5;

/**
 * Latencies in whole microseconds over hdr-histogram-js (its JavaScript
 * implementation: WebAssembly would need asynchronous set-up for no gain at
 * these rates).
 */
export class LatencyHistogram {
  readonly #h: Histogram = build({
    bitBucketSize: 32,
    autoResize: true,
    lowestDiscernibleValue: 1,
    highestTrackableValue: INITIAL_HIGHEST_US,
    numberOfSignificantValueDigits: SIGNIFICANT_DIGITS,
    useWebAssembly: false,
  });

  get count(): number {
    return this.#h.totalCount;
  }

  /** Record one sample; sub-microsecond and negative values (clock quirks) record as 0. */
  recordUs(us: number): void {
    this.#h.recordValue(us > 0 ? Math.round(us) : 0);
  }

  /** Add every sample of `other` (used to merge rounds). */
  add(other: LatencyHistogram): void {
    this.#h.add(other.#h);
  }

  /** Value at `percentile` (0..100); 0 when empty. */
  percentileUs(percentile: number): number {
    return this.count === 0 ? 0 : this.#h.getValueAtPercentile(percentile);
  }

  summary(): LatencySummary {
    if (this.count === 0) {
      return { count: 0, minUs: 0, meanUs: 0, p50Us: 0, p90Us: 0, p99Us: 0, p999Us: 0, maxUs: 0 };
    }
    const h = this.#h;
    return {
      count: h.totalCount,
      minUs: h.minNonZeroValue === Number.MAX_SAFE_INTEGER ? 0 : h.minNonZeroValue,
      meanUs: Math.round(h.mean * 10) / 10,
      p50Us: h.getValueAtPercentile(50),
      p90Us: h.getValueAtPercentile(90),
      p99Us: h.getValueAtPercentile(99),
      p999Us: h.getValueAtPercentile(99.9),
      maxUs: h.maxValue,
    };
  }

  /**
   * The percentile curve as HdrHistogram plots it: evenly spaced in
   * `log10(1 / (1 - p))`, so 90 %, 99 %, 99.9 % are equally far apart. It
   * stops where the samples run out (1 / count) and ends with the maximum.
   */
  curve(): CurvePoint[] {
    const n = this.count;
    if (n === 0) return [];
    const decades = Math.min(CURVE_MAX_DECADES, Math.log10(n));
    const steps = Math.ceil(decades * CURVE_STEPS_PER_DECADE);
    const points: CurvePoint[] = [];
    for (let i = 0; i <= steps; i++) {
      const x = Math.min(decades, i / CURVE_STEPS_PER_DECADE);
      const percentile = 100 * (1 - Math.pow(10, -x));
      points.push({
        percentile: round6(percentile),
        valueUs: this.#h.getValueAtPercentile(percentile),
      });
    }
    points.push({ percentile: 100, valueUs: this.#h.maxValue });
    return points;
  }
}

function round6(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}
