/** Medians and ranges over the interleaved runs, ratios between targets, and the key figures a later run compares against. */
import {
  PROXIES,
  PROXY_BOUND_BUSY_PCT,
  TARGETS,
  TESTS,
  type Collected,
  type KeyFigures,
  type Measurement,
  type RssMeasurement,
  type Target,
} from './model.ts';

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

export function spread(values: readonly number[]): Spread | undefined {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 === 1 ? (v[mid] ?? 0) : ((v[mid - 1] ?? 0) + (v[mid] ?? 0)) / 2;
  return { median, min: v[0] ?? 0, max: v[v.length - 1] ?? 0, n: v.length };
}

/** Per test and target: the spreads the tables show. */
export interface Cell {
  readonly throughput?: Spread;
  readonly p50Us?: Spread;
  readonly p99Us?: Spread;
  /** Proxy CPU microseconds per operation. */
  readonly cpuPerOpUs?: Spread;
  /** Proxy CPU as a share of the run, in percent. */
  readonly busyPct?: Spread;
  readonly loadCorePct?: Spread;
  /** Highest share of the proxy core that other processes took in any run. */
  readonly strayMaxPct: number;
  readonly errors: number;
  readonly failedRuns: readonly string[];
}

export function summarise(ms: readonly Measurement[]): Cell {
  const ok = ms.filter((m) => m.ok);
  const pick = (f: (m: Measurement) => number | undefined): Spread | undefined =>
    spread(ok.map(f).filter((x): x is number => x !== undefined));
  return {
    ...opt(
      'throughput',
      pick((m) => m.throughput),
    ),
    ...opt(
      'p50Us',
      pick((m) => m.p50Us),
    ),
    ...opt(
      'p99Us',
      pick((m) => m.p99Us),
    ),
    ...opt(
      'cpuPerOpUs',
      pick((m) => (m.cpuSec === undefined || m.ops <= 0 ? undefined : (m.cpuSec * 1e6) / m.ops)),
    ),
    ...opt(
      'busyPct',
      pick((m) =>
        m.cpuSec === undefined || m.activeSec <= 0 ? undefined : (100 * m.cpuSec) / m.activeSec,
      ),
    ),
    ...opt(
      'loadCorePct',
      pick((m) => m.loadCorePct),
    ),
    strayMaxPct: Math.max(0, ...ok.map((m) => m.strayProxyCorePct ?? 0)),
    errors: ok.reduce((sum, m) => sum + m.errors, 0),
    failedRuns: ms.filter((m) => !m.ok).map((m) => `run ${m.run}: ${m.problem ?? 'failed'}`),
  };
}

function opt<K extends string>(key: K, value: Spread | undefined): Partial<Record<K, Spread>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, Spread>);
}

export function proxyBound(cell: Cell | undefined): boolean {
  return (cell?.busyPct?.median ?? 0) >= PROXY_BOUND_BUSY_PCT;
}

export interface ThroughputRatio {
  /** Both sides' proxies were busy enough for the ratio to compare capacities. */
  readonly bound: boolean;
  readonly value: number | undefined;
}

/**
 * Throughput of `a` over `b`. It compares capacities only when every proxy
 * involved was at least `PROXY_BOUND_BUSY_PCT` busy ("direct" has no proxy:
 * then `a` alone must be).
 */
export function throughputRatio(
  a: Cell | undefined,
  b: Cell | undefined,
  bIsDirect: boolean,
): ThroughputRatio {
  const ta = a?.throughput?.median;
  const tb = b?.throughput?.median;
  const value = ta !== undefined && tb !== undefined && tb > 0 ? ta / tb : undefined;
  return { bound: proxyBound(a) && (bIsDirect || proxyBound(b)), value };
}

export function medianRatio(a: Spread | undefined, b: Spread | undefined): number | undefined {
  return a !== undefined && b !== undefined && b.median > 0 ? a.median / b.median : undefined;
}

// === rendering ===

/** Medians of every figure a later run compares with, per target. */
export function keyFigures(c: Collected, label: string): KeyFigures {
  const figures: Record<string, Partial<Record<Target, number>>> = {};
  const put = (key: string, target: Target, value: number | undefined): void => {
    if (value === undefined) return;
    figures[key] = { ...figures[key], [target]: value };
  };
  for (const t of TESTS) {
    for (const target of TARGETS) {
      const ms = c.measurements.filter((m) => m.test === t.id && m.target === target);
      if (ms.length === 0) continue;
      const x = summarise(ms);
      put(`${t.id}/throughput`, target, x.throughput?.median);
      put(`${t.id}/cpuPerOpUs`, target, x.cpuPerOpUs?.median);
      put(`${t.id}/p50Us`, target, x.p50Us?.median);
      put(`${t.id}/p99Us`, target, x.p99Us?.median);
    }
  }
  for (const [target, per] of rssPerConnection(c.rss))
    put('rss-idle/kibPerConnection', target, per.median);
  for (const target of PROXIES) {
    const before = spread(c.rss.filter((r) => r.target === target).map((r) => r.beforeKb));
    put('rss-idle/beforeMiB', target, before === undefined ? undefined : before.median / 1024);
  }
  return {
    schema: 'headway-compare-key-figures/v1',
    label,
    date: c.env.get('date') ?? '?',
    headway: c.env.get('headway') ?? '?',
    figures,
  };
}

/**
 * Per run: `a` over `b` (by default tracking on over tracking off), for runs
 * where both were measured. The runs interleave the targets, so the two
 * measurements of one run were taken minutes apart at most, under the same
 * conditions: the range of these ratios shows how much of a difference is noise.
 */
export function pairedRatios(
  ms: readonly Measurement[],
  test: string,
  f: (m: Measurement) => number | undefined,
  a: Target = 'headway',
  b: Target = 'headway-bare',
): Spread | undefined {
  const ratios: number[] = [];
  for (const on of ms) {
    if (on.test !== test || on.target !== a || !on.ok) continue;
    const off = ms.find((m) => m.test === test && m.target === b && m.run === on.run && m.ok);
    const x = f(on);
    const y = off === undefined ? undefined : f(off);
    if (x !== undefined && y !== undefined && y > 0) ratios.push(x / y);
  }
  return spread(ratios);
}

/** `a[i] / b[i]` for each run `i` both measured: per-run values listed in run order. */
export function ratiosByRun(a: readonly number[], b: readonly number[]): Spread | undefined {
  const ratios: number[] = [];
  for (const [i, x] of a.entries()) {
    const y = b[i];
    if (y !== undefined && y > 0) ratios.push(x / y);
  }
  return spread(ratios);
}

export const cpuPerOp = (m: Measurement): number | undefined =>
  m.cpuSec === undefined || m.ops <= 0 ? undefined : (m.cpuSec * 1e6) / m.ops;

export function rssPerConnection(rss: readonly RssMeasurement[]): Map<Target, Spread> {
  const out = new Map<Target, Spread>();
  for (const target of PROXIES) {
    const per = spread(
      rss
        .filter((r) => r.target === target && r.opened > 0)
        .map((r) => (r.afterKb - r.beforeKb) / r.opened),
    );
    if (per !== undefined) out.set(target, per);
  }
  return out;
}
