import type { BenchMode, BenchOptions, BenchTarget } from './bench-options.ts';
import type { CurvePoint, LatencySummary } from './latency-histogram.ts';
import type { RoundResult } from './round.ts';

/** Version tag of the `--json` document; bump it when a field changes meaning. */
export const BENCH_SCHEMA = 'headway-bench/v1';

export interface Throughput {
  /** rr: exchanges/s; connect: connections/s; stream: 0. */
  readonly operationsPerSec: number;
  /** Payload bytes the target accepted, per second. */
  readonly sentBytesPerSec: number;
  /** Echo bytes received, per second. */
  readonly receivedBytesPerSec: number;
}

export interface OpenLoopReport {
  readonly ratePerSec: number;
  /** Operations due during the measured time. */
  readonly scheduled: number;
  readonly started: number;
  /** Due operations that never started (every connection was busy). */
  readonly missed: number;
  /** `started / measured seconds`. */
  readonly achievedRatePerSec: number;
}

/** Each field is this target's value divided by the first target's; null where undefined. */
export interface Relative {
  /** Of the mode's main throughput figure (see `mainThroughput`). */
  readonly throughput: number | null;
  readonly p50: number | null;
  readonly p99: number | null;
}

export interface TargetReport {
  readonly name: string;
  readonly address: string;
  readonly rounds: number;
  readonly measuredSeconds: number;
  readonly operations: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly throughput: Throughput;
  /** rr: round trip; connect: connect + echo; null in stream mode. */
  readonly latencyUs: LatencySummary | null;
  /** connect mode only: until the TCP connection was established. */
  readonly connectLatencyUs: LatencySummary | null;
  readonly errors: { readonly total: number; readonly byKind: Readonly<Record<string, number>> };
  readonly openLoop: OpenLoopReport | null;
  /** Percentile curve of `latencyUs` for plotting; empty in stream mode. */
  readonly curve: readonly CurvePoint[];
  /** Against the first target; null for the first target itself. */
  readonly relative: Relative | null;
}

export interface BenchReport {
  readonly schema: typeof BENCH_SCHEMA;
  readonly mode: BenchMode;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly settings: {
    readonly connections: number;
    readonly durationMs: number;
    readonly warmupMs: number;
    readonly sizeBytes: number;
    /** 0 = closed loop. */
    readonly ratePerSec: number;
    readonly rounds: number;
    readonly timeoutMs: number;
  };
  readonly targets: readonly TargetReport[];
}

/** The figure a mode is judged by: exchanges/s, connections/s, or received bytes/s for stream. */
export function mainThroughput(mode: BenchMode, t: Throughput): number {
  return mode === 'stream' ? t.receivedBytesPerSec : t.operationsPerSec;
}

export interface MeasuredTarget {
  readonly target: BenchTarget;
  readonly rounds: number;
  readonly result: RoundResult;
}

/** Assemble the report from each target's merged rounds. */
export function buildReport(
  opts: BenchOptions,
  measured: readonly MeasuredTarget[],
  startedAt: Date,
  finishedAt: Date,
): BenchReport {
  const bare = measured.map((m) => targetReport(opts, m));
  const first = bare[0];
  const targets = bare.map((t, i) =>
    i === 0 || first === undefined ? t : { ...t, relative: relative(opts.mode, t, first) },
  );
  return {
    schema: BENCH_SCHEMA,
    mode: opts.mode,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    settings: {
      connections: opts.connections,
      durationMs: opts.durationMs,
      warmupMs: opts.warmupMs,
      sizeBytes: opts.sizeBytes,
      ratePerSec: opts.ratePerSec,
      rounds: opts.rounds,
      timeoutMs: opts.timeoutMs,
    },
    targets,
  };
}

function targetReport(opts: BenchOptions, m: MeasuredTarget): TargetReport {
  const r = m.result;
  const seconds = r.elapsedMs / 1000;
  const perSec = (n: number): number => (seconds > 0 ? n / seconds : 0);
  const hasLatency = opts.mode !== 'stream';
  return {
    name: m.target.name,
    address: m.target.address,
    rounds: m.rounds,
    measuredSeconds: round3(seconds),
    operations: r.operations,
    bytesSent: r.bytesSent,
    bytesReceived: r.bytesReceived,
    throughput: {
      operationsPerSec: round3(perSec(r.operations)),
      sentBytesPerSec: Math.round(perSec(r.bytesSent)),
      receivedBytesPerSec: Math.round(perSec(r.bytesReceived)),
    },
    latencyUs: hasLatency ? r.latency.summary() : null,
    connectLatencyUs: opts.mode === 'connect' ? r.connectLatency.summary() : null,
    errors: { total: r.errors.total, byKind: r.errors.byKind() },
    openLoop:
      opts.ratePerSec > 0
        ? {
            ratePerSec: opts.ratePerSec,
            scheduled: r.scheduled,
            started: r.scheduled - r.missed,
            missed: r.missed,
            achievedRatePerSec: round3(perSec(r.scheduled - r.missed)),
          }
        : null,
    curve: hasLatency ? r.latency.curve() : [],
    relative: null,
  };
}

function relative(mode: BenchMode, t: TargetReport, first: TargetReport): Relative {
  return {
    throughput: ratio(mainThroughput(mode, t.throughput), mainThroughput(mode, first.throughput)),
    p50: ratio(sampled(t.latencyUs)?.p50Us, sampled(first.latencyUs)?.p50Us),
    p99: ratio(sampled(t.latencyUs)?.p99Us, sampled(first.latencyUs)?.p99Us),
  };
}

/** The summary when it holds samples: an empty one has no percentiles to compare. */
export function sampled(l: LatencySummary | null): LatencySummary | undefined {
  return l !== null && l.count > 0 ? l : undefined;
}

/** `a / b` to three decimals; null when either is missing or `b` is 0. */
export function ratio(a: number | undefined, b: number | undefined): number | null {
  if (a === undefined || b === undefined || b === 0) return null;
  return round3(a / b);
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
