/** What bench/compare measures (targets, tests) and the records the report is built from. */
/**
 * `headway` runs with the defaults (latency tracking and metrics on) plus an
 * access log to a file; `headway-bare` with `--latency-tracking off` and no
 * access log, measured right after it in the tests that compare the two.
 */
export const TARGETS = ['direct', 'headway', 'headway-bare', 'haproxy', 'nginx'] as const;

export type Target = (typeof TARGETS)[number];

export const PROXIES = ['headway', 'haproxy', 'nginx'] as const;

export const LABEL: Readonly<Record<Target, string>> = {
  direct: 'direct',
  headway: 'Headway',
  'headway-bare': 'Headway, tracking off',
  haproxy: 'HAProxy',
  nginx: 'NGINX',
};

/** Tracking on and off may differ by less than this (issue #8), in throughput and CPU per request. */
export const TRACKING_TOLERANCE = 0.05;

/** Below this share of its core, a proxy was waiting for the load, not working flat out. */
export const PROXY_BOUND_BUSY_PCT = 90;

/** Other processes taking more of the proxy core than this disturbed the run. */
export const STRAY_LIMIT_PCT = 10;

export interface TestSpec {
  readonly id: string;
  readonly group: 'rr' | 'bulk' | 'connrate';
  readonly title: string;
  /** Heading of the throughput column. */
  readonly unit: string;
  /** What one "operation" is for CPU per operation. */
  readonly opUnit: string;
  readonly hasLatency: boolean;
  readonly backend: string;
}

export const TESTS: readonly TestSpec[] = [
  spec('rr-redis-c1', 'rr', 'redis-benchmark GET, 1 connection', 'req/s', 'request', true, 'redis'),
  spec(
    'rr-redis-c50',
    'rr',
    'redis-benchmark GET, 50 connections',
    'req/s',
    'request',
    true,
    'redis',
  ),
  spec(
    'rr-bench-c1',
    'rr',
    'headway bench rr 64 B, 1 connection',
    'exch/s',
    'exchange',
    true,
    'echo',
  ),
  spec(
    'rr-bench-c50',
    'rr',
    'headway bench rr 64 B, 50 connections',
    'exch/s',
    'exchange',
    true,
    'echo',
  ),
  spec('bulk-iperf-p1', 'bulk', 'iperf3, 1 stream', 'Gbit/s', 'MB', false, 'iperf3'),
  spec('bulk-iperf-p8', 'bulk', 'iperf3, 8 streams', 'Gbit/s', 'MB', false, 'iperf3'),
  spec(
    'bulk-bench-c1',
    'bulk',
    'headway bench stream, 1 connection',
    'Gbit/s each way',
    'MB',
    false,
    'echo',
  ),
  spec(
    'bulk-bench-c8',
    'bulk',
    'headway bench stream, 8 connections',
    'Gbit/s each way',
    'MB',
    false,
    'echo',
  ),
  spec(
    'connrate-wrk',
    'connrate',
    'wrk, Connection: close, 50 connections',
    'conn/s',
    'connection',
    true,
    'nginx HTTP',
  ),
  spec(
    'connrate-bench',
    'connrate',
    'headway bench connect, 50 at once',
    'conn/s',
    'connection',
    true,
    'echo',
  ),
];

function spec(
  id: string,
  group: TestSpec['group'],
  title: string,
  unit: string,
  opUnit: string,
  hasLatency: boolean,
  backend: string,
): TestSpec {
  return { id, group, title, unit, opUnit, hasLatency, backend };
}

/** One measured run, reduced to the figures the report uses. */
export interface Measurement {
  readonly test: string;
  readonly target: Target;
  readonly run: number;
  readonly ok: boolean;
  readonly problem?: string;
  /** In the test's `unit`. */
  readonly throughput: number;
  readonly p50Us?: number;
  readonly p99Us?: number;
  /** Operations (in the test's `opUnit`) the proxy handled. */
  readonly ops: number;
  /** Seconds the load ran, as the tool measured them. */
  readonly activeSec: number;
  readonly errors: number;
  /** Proxy process CPU (user + system) during the run; undefined for direct. */
  readonly cpuSec?: number;
  /** How busy the load core (generators and backends) was over the whole command, in percent. */
  readonly loadCorePct?: number;
  /** Work on the proxy core by anything but the proxy, in percent: other load on the machine. */
  readonly strayProxyCorePct?: number;
  readonly cmd: string;
}

export interface RssMeasurement {
  readonly target: Target;
  readonly run: number;
  readonly opened: number;
  readonly failed: number;
  readonly beforeKb: number;
  readonly afterKb: number;
  readonly cmd: string;
}

// === parsing ===

export interface Collected {
  readonly env: Map<string, string>;
  readonly measurements: readonly Measurement[];
  readonly rss: readonly RssMeasurement[];
  /** What bench/yardstick.ts measured in this run, if it ran. */
  readonly yardstick?: YardstickFigures;
  /** An earlier run's key figures, for "What changed since". */
  readonly baseline?: KeyFigures;
  /**
   * bench/config/connection-cost-changes.md, kept by hand: each change made
   * for issue #19 and its measured effect, shown under that section.
   */
  readonly connectionCostChanges?: string;
}

// === the yardstick (bench/yardstick.ts) ===

export const YARDSTICK_SCHEMA = 'headway-yardstick/v1';

/** The yardstick's variants: Headway as shipped, Headway with its features off, bench/raw-relay.ts. */
export type YardstickVariantId = 'headway' | 'headway-features-off' | 'raw-relay';

export interface YardstickVariant {
  readonly id: YardstickVariantId;
  readonly name: string;
  /** Per run, in run order: proxy CPU µs per 64 B exchange (`headway bench rr`, 50 connections). */
  readonly rrCpuUs: readonly number[];
  /** Per run, in run order: proxy CPU µs per connection (`headway bench connect`, 50 at once). */
  readonly connectCpuUs: readonly number[];
  /** Per run: RSS KiB per idle proxied connection. */
  readonly idleKibPerConnection: readonly number[];
}

/** What `bench/yardstick.ts --json FILE` writes (bench/compare: yardstick.json in the run directory). */
export interface YardstickReport {
  readonly schema: typeof YARDSTICK_SCHEMA;
  readonly date: string;
  readonly runs: number;
  readonly seconds: number;
  readonly idle: number;
  readonly variants: readonly YardstickVariant[];
}

export interface YardstickFigures {
  readonly report: YardstickReport;
  /**
   * `json`: per-run values. `markdown`: read back from yardstick.md (runs from
   * before the JSON existed), which keeps only medians: one value per figure.
   */
  readonly source: 'json' | 'markdown';
}

/**
 * The medians a later run is compared with (`--key-figures` writes them,
 * `--baseline` reads them): per `test/figure`, per target.
 */
export interface KeyFigures {
  readonly schema: 'headway-compare-key-figures/v1';
  /** What the run was, in a few words ("first run"). */
  readonly label: string;
  readonly date: string;
  readonly headway: string;
  /** How that run differed from the current bench/compare and data path. */
  readonly since?: readonly string[];
  readonly figures: Readonly<Record<string, Partial<Record<Target, number>>>>;
}
