/**
 * `node bench/render-results.ts bench/results/<time>` prints bench/RESULTS.md
 * from what bench/compare collected there: env.txt, and per measurement a
 * `.meta` file (proxy CPU ticks, command) beside the tool's own output.
 *
 * Medians of the interleaved runs with min–max; proxy CPU per operation from
 * /proc/PID/stat ticks; and the load-bound rule: a throughput ratio is only
 * claimed where the proxies involved kept their core at least
 * `PROXY_BOUND_BUSY_PCT` busy. Otherwise the load generators (one core for
 * load and backends) set the pace, and CPU per operation is the figure.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `headway` runs with the defaults (latency tracking and metrics on) plus an
 * access log to a file; `headway-bare` with `--latency-tracking off` and no
 * access log, measured right after it in the tests that compare the two.
 */
export const TARGETS = ['direct', 'headway', 'headway-bare', 'haproxy', 'nginx'] as const;
export type Target = (typeof TARGETS)[number];
const PROXIES = ['headway', 'haproxy', 'nginx'] as const;
const LABEL: Readonly<Record<Target, string>> = {
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

interface TestSpec {
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

export function parseKeyValues(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return out;
}

function isTarget(s: string | undefined): s is Target {
  return (TARGETS as readonly string[]).includes(s ?? '');
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Parse one run from its meta and the tool's output; a failed or unreadable run has `ok: false`. */
export function parseMeasurement(
  meta: Map<string, string>,
  output: string,
  json: string,
  clkTck: number,
): Measurement | undefined {
  const test = meta.get('test') ?? '';
  const target = meta.get('target');
  if (!isTarget(target)) return undefined;
  const base = {
    test,
    target,
    run: Number(meta.get('run') ?? 0),
    cmd: meta.get('cmd') ?? '',
  };
  const ticks = Number(meta.get('ticks') ?? 0);
  const cpuSec = target === 'direct' ? undefined : ticks / clkTck;
  const wall = Number(meta.get('wall') ?? 0);
  const share = (key: string, minus = 0): Partial<Record<string, number>> => {
    const v = meta.get(key);
    return v === undefined || wall <= 0
      ? {}
      : { value: Math.max(0, (100 * (Number(v) - minus)) / clkTck / wall) };
  };
  const loadCorePct = share('load_core_ticks').value;
  const strayProxyCorePct = share('proxy_core_ticks', target === 'direct' ? 0 : ticks).value;
  const cores = {
    ...(loadCorePct === undefined ? {} : { loadCorePct }),
    ...(strayProxyCorePct === undefined ? {} : { strayProxyCorePct }),
  };
  try {
    if (meta.get('rc') !== '0') throw new Error(`exit code ${meta.get('rc') ?? '?'}`);
    const figures = parseTool(meta.get('tool') ?? '', test, output, json, base.cmd);
    return { ...base, ...figures, ...cores, ok: true, ...(cpuSec === undefined ? {} : { cpuSec }) };
  } catch (err) {
    return {
      ...base,
      ok: false,
      problem: err instanceof Error ? err.message : String(err),
      throughput: 0,
      ops: 0,
      activeSec: 0,
      errors: 0,
    };
  }
}

type Figures = Pick<Measurement, 'throughput' | 'p50Us' | 'p99Us' | 'ops' | 'activeSec' | 'errors'>;

function parseTool(tool: string, test: string, output: string, json: string, cmd: string): Figures {
  switch (tool) {
    case 'redis-benchmark':
      return parseRedisBenchmark(output, cmd);
    case 'headway-bench':
      return parseHeadwayBench(json, test);
    case 'iperf3':
      return parseIperf(output);
    case 'wrk':
      return parseWrk(output);
    default:
      throw new Error(`unknown tool ${tool}`);
  }
}

/** `--csv`: a header line, then `"GET","rps","avg","min","p50","p95","p99","max"` in ms. */
export function parseRedisBenchmark(output: string, cmd: string): Figures {
  const row = output.split('\n').find((l) => l.startsWith('"GET"'));
  if (row === undefined) throw new Error('no GET line in redis-benchmark output');
  const cells = row.split(',').map((c) => Number(c.replaceAll('"', '')));
  const rps = cells[1] ?? 0;
  const requests = Number(/-n (\d+)/.exec(cmd)?.[1] ?? 0);
  if (!(rps > 0) || requests === 0) throw new Error('redis-benchmark reported no rate');
  return {
    throughput: rps,
    p50Us: (cells[4] ?? 0) * 1000,
    p99Us: (cells[6] ?? 0) * 1000,
    ops: requests,
    activeSec: requests / rps,
    errors: 0,
  };
}

interface BenchJson {
  readonly schema: string;
  readonly targets: readonly {
    readonly measuredSeconds: number;
    readonly operations: number;
    readonly bytesSent: number;
    readonly bytesReceived: number;
    readonly throughput: {
      readonly operationsPerSec: number;
      readonly receivedBytesPerSec: number;
    };
    readonly latencyUs: { readonly p50Us: number; readonly p99Us: number } | null;
    readonly errors: { readonly total: number };
  }[];
}

export function parseHeadwayBench(json: string, test: string): Figures {
  const doc = JSON.parse(json) as BenchJson;
  if (doc.schema !== 'headway-bench/v1') throw new Error(`unexpected schema ${doc.schema}`);
  const t = doc.targets[0];
  if (t === undefined) throw new Error('no target in headway bench output');
  const stream = test.startsWith('bulk-');
  if (stream ? t.bytesReceived === 0 : t.operations === 0) throw new Error('completed nothing');
  return {
    throughput: stream
      ? (t.throughput.receivedBytesPerSec * 8) / 1e9
      : t.throughput.operationsPerSec,
    ...(t.latencyUs === null ? {} : { p50Us: t.latencyUs.p50Us, p99Us: t.latencyUs.p99Us }),
    // A stream relays both directions: both count as work for the proxy.
    ops: stream ? (t.bytesSent + t.bytesReceived) / 1e6 : t.operations,
    activeSec: t.measuredSeconds,
    errors: t.errors.total,
  };
}

interface IperfJson {
  readonly error?: string;
  readonly end?: { readonly sum_received?: { readonly bytes: number; readonly seconds: number } };
}

export function parseIperf(output: string): Figures {
  const doc = JSON.parse(output) as IperfJson;
  if (doc.error !== undefined) throw new Error(`iperf3: ${doc.error}`);
  const r = doc.end?.sum_received;
  if (r === undefined || r.seconds <= 0) throw new Error('iperf3 reported nothing received');
  return {
    throughput: (r.bytes * 8) / r.seconds / 1e9,
    ops: r.bytes / 1e6,
    activeSec: r.seconds,
    errors: 0,
  };
}

interface WrkJson {
  readonly requests: number;
  readonly duration_us: number;
  readonly errors: Readonly<Record<string, number>>;
  readonly p50_us: number;
  readonly p99_us: number;
}

/** The JSON line bench/config/wrk-report.lua prints after wrk's own summary. */
export function parseWrk(output: string): Figures {
  const line = output.split('\n').find((l) => l.startsWith('{"wrk":1'));
  if (line === undefined) throw new Error('no report line in wrk output');
  const w = JSON.parse(line) as WrkJson;
  const seconds = w.duration_us / 1e6;
  if (w.requests === 0 || seconds <= 0) throw new Error('wrk completed nothing');
  return {
    throughput: w.requests / seconds,
    p50Us: w.p50_us,
    p99Us: w.p99_us,
    ops: w.requests,
    activeSec: seconds,
    errors: Object.values(w.errors).reduce((a, b) => a + b, 0),
  };
}

export function parseRss(meta: Map<string, string>, output: string): RssMeasurement | undefined {
  const target = meta.get('target');
  if (!isTarget(target)) return undefined;
  let opened = 0;
  let failed = 0;
  try {
    const held = JSON.parse(output.trim().split('\n')[0] ?? '') as {
      opened: number;
      failed: number;
    };
    opened = held.opened;
    failed = held.failed;
  } catch {
    // The holder never reported: opened stays 0 and the run is shown as failed.
  }
  return {
    target,
    run: Number(meta.get('run') ?? 0),
    opened,
    failed,
    beforeKb: Number(meta.get('rss_before_kb') ?? 0),
    afterKb: Number(meta.get('rss_after_kb') ?? 0),
    cmd: meta.get('cmd') ?? '',
  };
}

// === statistics ===

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

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function num(n: number): string {
  if (n >= 100) return int.format(n);
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

function withRange(s: Spread | undefined, f: (n: number) => string = num): string {
  if (s === undefined) return '–';
  if (s.n === 1 || f(s.min) === f(s.max)) return f(s.median);
  return `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

function times(r: number | undefined): string {
  return r === undefined ? '–' : `${r.toFixed(2)}×`;
}

function ratioCell(r: ThroughputRatio, cpu: number | undefined): string {
  if (r.value === undefined) return '–';
  if (r.bound) return `**${times(r.value)}**`;
  const cpuText = cpu === undefined ? '' : `; CPU/op ${times(cpu)}`;
  return `load-bound (seen ${times(r.value)}${cpuText})`;
}

export interface Collected {
  readonly env: Map<string, string>;
  readonly measurements: readonly Measurement[];
  readonly rss: readonly RssMeasurement[];
  /** An earlier run's key figures, for "What changed since". */
  readonly baseline?: KeyFigures;
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

export function collect(dir: string): Collected {
  const env = parseKeyValues(readText(join(dir, 'env.txt')));
  const clkTck = Number(env.get('clk_tck') ?? 100);
  const runs = join(dir, 'runs');
  const measurements: Measurement[] = [];
  const rss: RssMeasurement[] = [];
  for (const file of readdirSync(runs)
    .filter((f) => f.endsWith('.meta'))
    .sort()) {
    const stem = join(runs, file.slice(0, -'.meta'.length));
    const meta = parseKeyValues(readText(join(runs, file)));
    const output = readText(`${stem}.out`);
    if (meta.get('test') === 'rss-idle') {
      const r = parseRss(meta, output);
      if (r !== undefined) rss.push(r);
      continue;
    }
    const m = parseMeasurement(meta, output, readText(`${stem}.json`), clkTck);
    if (m !== undefined) measurements.push(m);
  }
  return { env, measurements, rss };
}

export function render(c: Collected): string {
  const env = c.env;
  const cells = new Map<string, Cell>();
  for (const t of TESTS) {
    for (const target of TARGETS) {
      const ms = c.measurements.filter((m) => m.test === t.id && m.target === target);
      if (ms.length > 0) cells.set(`${t.id}/${target}`, summarise(ms));
    }
  }
  const cell = (test: string, target: Target): Cell | undefined => cells.get(`${test}/${target}`);
  const tests = TESTS.filter((t) => TARGETS.some((target) => cell(t.id, target) !== undefined));
  const out: string[] = [];
  const runs = env.get('runs') ?? '?';
  out.push(
    '# Headway data path: comparison with HAProxy and NGINX',
    '',
    `Generated by \`bench/compare\` on ${env.get('date') ?? '?'}. Every figure is the median of ${runs} ` +
      'interleaved runs (direct, Headway, HAProxy, NGINX, direct, …) with min–max in parentheses. ' +
      'All traffic is on loopback. Each proxy is pinned to CPU 1; load generators and backends share CPU 0.',
    '',
    ...variantsText(env),
    '## Machine and versions',
    '',
    '| | |',
    '| --- | --- |',
    ...[
      ['CPUs', env.get('nproc')],
      ['CPU model', env.get('cpu')],
      ['kernel', env.get('kernel')],
      ['OS', env.get('os')],
      ['memory', env.get('mem')],
      ['open-file limit', env.get('nofile')],
      [
        'priority',
        (env.get('nice') ?? '0') === '0'
          ? 'default (nice 0)'
          : `nice ${env.get('nice') ?? ''} for every process bench/compare started (other work was running)`,
      ],
      ['waiting for other work', quietText(env)],
      ['load average (1, 5, 15 min)', loadText(env)],
      ['Node.js (Headway)', env.get('node')],
      ['Headway', headwayText(env.get('headway'))],
      ['Headway runs from', runtimeText(env)],
      ['HAProxy', env.get('haproxy')],
      ['NGINX', env.get('nginx')],
      ['iperf3', env.get('iperf3')],
      ['wrk', env.get('wrk')],
      ['Redis', env.get('redis')],
      [
        'run length',
        `${env.get('seconds') ?? '?'} s per run (redis-benchmark: a request count of about that)` +
          (env.has('duration_s')
            ? `; the whole comparison took ${env.get('duration_s') ?? ''} s`
            : ''),
      ],
    ].map(([k, v]) => `| ${k ?? ''} | ${mdEscape(v ?? '?')} |`),
    '',
  );

  out.push(
    '## Ratios',
    '',
    `A throughput ratio is shown in **bold** only where the proxies in it kept their core at least ${PROXY_BOUND_BUSY_PCT} % busy, ` +
      'so that it compares what the proxies can do. Elsewhere the load side (one core for load generators and backends) set the pace: ' +
      'the row says "load-bound", gives the throughput ratio that was seen, and the CPU-per-operation ratio, which is then the figure to read ' +
      '(below 1 = Headway spends less CPU per operation). Latency ratios below 1 mean Headway was faster.',
    '',
    '| test | figure | Headway/HAProxy | Headway/NGINX | Headway/direct |',
    '| --- | --- | --- | --- | --- |',
  );
  for (const t of tests) {
    const hw = cell(t.id, 'headway');
    const ha = cell(t.id, 'haproxy');
    const ng = cell(t.id, 'nginx');
    const di = cell(t.id, 'direct');
    const cpuHa = medianRatio(hw?.cpuPerOpUs, ha?.cpuPerOpUs);
    const cpuNg = medianRatio(hw?.cpuPerOpUs, ng?.cpuPerOpUs);
    out.push(
      `| ${t.title} | throughput | ${ratioCell(throughputRatio(hw, ha, false), cpuHa)} | ` +
        `${ratioCell(throughputRatio(hw, ng, false), cpuNg)} | ${ratioCell(throughputRatio(hw, di, true), undefined)} |`,
      `| | CPU per ${t.opUnit} | ${times(cpuHa)} | ${times(cpuNg)} | – |`,
    );
    if (t.hasLatency) {
      out.push(
        `| | p50 latency | ${times(medianRatio(hw?.p50Us, ha?.p50Us))} | ${times(medianRatio(hw?.p50Us, ng?.p50Us))} | ` +
          `${times(medianRatio(hw?.p50Us, di?.p50Us))} |`,
        `| | p99 latency | ${times(medianRatio(hw?.p99Us, ha?.p99Us))} | ${times(medianRatio(hw?.p99Us, ng?.p99Us))} | ` +
          `${times(medianRatio(hw?.p99Us, di?.p99Us))} |`,
      );
    }
  }
  const rssPer = rssPerConnection(c.rss);
  if (rssPer.size > 0) {
    const hw = rssPer.get('headway');
    out.push(
      `| idle connections (${env.get('idle') ?? '?'}) | RSS per connection | ${times(medianRatio(hw, rssPer.get('haproxy')))} | ` +
        `${times(medianRatio(hw, rssPer.get('nginx')))} | – |`,
    );
  }
  out.push('');
  out.push(...targetsSection(cell, rssPer.get('headway')));
  out.push(...trackingSection(tests, cell, c.measurements));
  if (c.baseline !== undefined) out.push(...sinceSection(c, c.baseline));

  for (const group of ['rr', 'bulk', 'connrate'] as const) {
    const inGroup = tests.filter((t) => t.group === group);
    if (inGroup.length === 0) continue;
    out.push(`## ${GROUP_TITLE[group]}`, '', GROUP_TEXT[group], '');
    for (const t of inGroup) {
      out.push(`### ${t.title} (backend: ${t.backend})`, '');
      const head = ['target', t.unit];
      if (t.hasLatency) head.push('p50 µs', 'p99 µs');
      head.push(`proxy CPU µs per ${t.opUnit}`, 'proxy core busy %', 'load core busy %', 'errors');
      out.push(`| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`);
      for (const target of TARGETS) {
        const x = cell(t.id, target);
        if (x === undefined) continue;
        const fmt = t.unit.startsWith('Gbit') ? (n: number) => n.toFixed(2) : num;
        // Other processes on the proxy core make a run suspect; mark it rather than hide it.
        const mark = x.strayMaxPct > STRAY_LIMIT_PCT ? ' †' : '';
        const row = [`${LABEL[target]}${mark}`, withRange(x.throughput, fmt)];
        if (t.hasLatency) row.push(withRange(x.p50Us), withRange(x.p99Us));
        row.push(
          target === 'direct' ? '–' : withRange(x.cpuPerOpUs),
          // Ticks are read around the whole command, so setup can push a saturated run a little past 100.
          target === 'direct' ? '–' : withRange(x.busyPct, (n) => Math.min(100, n).toFixed(0)),
          withRange(x.loadCorePct, (n) => Math.min(100, n).toFixed(0)),
          x.failedRuns.length > 0
            ? `${x.errors}; failed ${x.failedRuns.join('; ')}`
            : String(x.errors),
        );
        out.push(`| ${row.map(mdEscape).join(' | ')} |`);
      }
      out.push('');
    }
  }

  if (c.rss.length > 0) {
    out.push(
      '## Memory per idle proxied connection',
      '',
      `\`bench/hold-connections.ts\` opens ${env.get('idle') ?? '?'} connections through each proxy to the echo backend, ` +
        "checks each with a one-byte echo, and holds them idle; the proxy's VmRSS (from /proc/PID/status) " +
        'is read before and 2 s after. Each proxied connection costs the proxy two descriptors.',
      '',
      '| proxy | RSS before (MiB) | RSS with connections (MiB) | KiB per connection | connections held |',
      '| --- | --- | --- | --- | --- |',
    );
    for (const target of PROXIES) {
      const rs = c.rss.filter((r) => r.target === target);
      if (rs.length === 0) continue;
      const per = spread(
        rs.filter((r) => r.opened > 0).map((r) => (r.afterKb - r.beforeKb) / r.opened),
      );
      const mib = (kb: number): string => (kb / 1024).toFixed(1);
      out.push(
        `| ${LABEL[target]} | ${withRange(spread(rs.map((r) => r.beforeKb)), mib)} | ` +
          `${withRange(spread(rs.map((r) => r.afterKb)), mib)} | ${withRange(per, (n) => n.toFixed(2))} | ` +
          `${withRange(spread(rs.map((r) => r.opened)), (n) => int.format(n))} |`,
      );
    }
    out.push('');
  }

  out.push(...commandsSection(c), ...NOTES);
  return `${out.join('\n')}\n`;
}

function variantsText(env: Map<string, string>): string[] {
  if (!env.has('headway_cmd')) return [];
  return [
    'Headway runs as deployed by default: latency tracking on, metrics on (counted in memory; the admin endpoint ' +
      'that would serve them is off, nothing scrapes), active TCP health checks (`auto`: a probe connection every 5 s ' +
      'per backend), plus an access log written to a file in the run directory (`--access-log FILE`). ' +
      '"Headway, tracking off" (`--latency-tracking off`, no access log, otherwise the same) is measured right after ' +
      'Headway in the request/response tests at 50 connections and in the connection-rate tests: see ' +
      '"Latency tracking and access log: on / off".',
    '',
  ];
}

function loadText(env: Map<string, string>): string | undefined {
  const start = env.get('loadavg_start');
  if (start === undefined) return 'not recorded';
  const end = env.get('loadavg_end');
  return (
    `${start} before the run` +
    (end === undefined ? '' : `, ${end} at its end (bench/compare itself keeps both cores busy)`)
  );
}

function runtimeText(env: Map<string, string>): string {
  if (env.get('headway_runtime') !== 'compiled') {
    return '.ts sources through Node.js type stripping (`node src/cli/main.ts`)';
  }
  const build = env.get('headway_build') ?? 'ok';
  return (
    'JavaScript compiled by tsc (`npm run build -- --outDir <run dir>/dist`, then `node <run dir>/dist/cli/main.js`)' +
    (build === 'ok'
      ? ''
      : `. tsc reported errors (${build}); it emits the JavaScript regardless, and that is what ran`)
  );
}

/** Per run: tracking on over tracking off, for runs where both were measured. */
function pairedRatios(
  ms: readonly Measurement[],
  test: string,
  f: (m: Measurement) => number | undefined,
): Spread | undefined {
  const ratios: number[] = [];
  for (const on of ms) {
    if (on.test !== test || on.target !== 'headway' || !on.ok) continue;
    const off = ms.find(
      (m) => m.test === test && m.target === 'headway-bare' && m.run === on.run && m.ok,
    );
    const a = f(on);
    const b = off === undefined ? undefined : f(off);
    if (a !== undefined && b !== undefined && b > 0) ratios.push(a / b);
  }
  return spread(ratios);
}

const cpuPerOp = (m: Measurement): number | undefined =>
  m.cpuSec === undefined || m.ops <= 0 ? undefined : (m.cpuSec * 1e6) / m.ops;

function signedPct(r: number): string {
  const pct = (r - 1) * 100;
  return `${pct >= 0 ? '+' : '−'}${Math.abs(pct).toFixed(1)} %`;
}

function trackingSection(
  tests: readonly TestSpec[],
  cell: (test: string, target: Target) => Cell | undefined,
  ms: readonly Measurement[],
): string[] {
  const compared = tests.filter(
    (t) => cell(t.id, 'headway') !== undefined && cell(t.id, 'headway-bare') !== undefined,
  );
  if (compared.length === 0) return [];
  const tol = TRACKING_TOLERANCE * 100;
  const out = [
    '## Latency tracking and access log: on / off',
    '',
    'Headway with the defaults (latency tracking and metrics on) and an access log to a file, against Headway with ' +
      '`--latency-tracking off` and no access log, in the same interleaved runs (direct, Headway, Headway tracking off, ' +
      'HAProxy, NGINX, direct, …). "on / off" is the ratio of the medians; "per run" gives the range of the ratios of ' +
      'the two measurements taken one after the other in each run, which shows how much of a difference is noise. ' +
      `Issue #8 asks for request/response throughput and CPU per request within ${tol} % of each other. Latency ` +
      'tracking costs per connection (connect, first byte and session durations go into histograms), as does the ' +
      'access log (one line per closed connection): the connection-rate tests show that cost. The request/response ' +
      'tests open their 50 connections once per run, so there it is spread over tens of thousands of requests.',
    '',
    '| test | figure | tracking on | tracking off | on / off | per run | within 5 % |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  /** Request/response figures issue #8 judges: per test, throughput and CPU per operation. */
  interface Judged {
    readonly title: string;
    readonly figure: 'throughput' | 'CPU';
    readonly ratio: number;
    readonly pairs: Spread | undefined;
    /** Throughput set by the load side: both variants' proxy cores under PROXY_BOUND_BUSY_PCT. */
    readonly loadBound: boolean;
  }
  const judged: Judged[] = [];
  const pairsText = (p: Spread | undefined): string =>
    p === undefined ? '–' : p.n === 1 ? times(p.min) : `${times(p.min)}–${times(p.max)}`;
  for (const t of compared) {
    const on = cell(t.id, 'headway');
    const off = cell(t.id, 'headway-bare');
    const loadBound = !proxyBound(on) && !proxyBound(off);
    const fmt = t.unit.startsWith('Gbit') ? (n: number) => n.toFixed(2) : num;
    const rows: [
      string,
      Spread | undefined,
      Spread | undefined,
      Spread | undefined,
      Judged['figure'] | null,
      (n: number) => string,
    ][] = [
      [
        `throughput (${t.unit})`,
        on?.throughput,
        off?.throughput,
        pairedRatios(ms, t.id, (m) => m.throughput),
        'throughput',
        fmt,
      ],
      [
        `CPU µs per ${t.opUnit}`,
        on?.cpuPerOpUs,
        off?.cpuPerOpUs,
        pairedRatios(ms, t.id, cpuPerOp),
        'CPU',
        num,
      ],
    ];
    if (t.hasLatency) {
      rows.push(
        ['p50 µs', on?.p50Us, off?.p50Us, pairedRatios(ms, t.id, (m) => m.p50Us), null, num],
        ['p99 µs', on?.p99Us, off?.p99Us, pairedRatios(ms, t.id, (m) => m.p99Us), null, num],
      );
    }
    let first = true;
    for (const [figure, a, b, pairs, kind, f] of rows) {
      const r = medianRatio(a, b);
      const within = r !== undefined && Math.abs(r - 1) < TRACKING_TOLERANCE;
      let verdict = '–';
      if (kind !== null && r !== undefined) {
        verdict = within ? 'yes' : `**no** (${signedPct(r)})`;
        if (!within && kind === 'throughput' && loadBound)
          verdict = `no (${signedPct(r)}; load-bound)`;
      }
      out.push(
        `| ${first ? t.title : ''} | ${figure} | ${withRange(a, f)} | ${withRange(b, f)} | ${times(r)} | ` +
          `${pairsText(pairs)} | ${verdict} |`,
      );
      first = false;
      if (kind !== null && t.group === 'rr' && r !== undefined) {
        judged.push({ title: t.title, figure: kind, ratio: r, pairs, loadBound });
      }
    }
  }
  out.push('');
  if (judged.length > 0) {
    const ok = (j: Judged): boolean => Math.abs(j.ratio - 1) < TRACKING_TOLERANCE;
    const list = (js: readonly Judged[]): string =>
      js.map((j) => `${times(j.ratio)} (${j.title}; per run ${pairsText(j.pairs)})`).join(', ');
    const cpu = judged.filter((j) => j.figure === 'CPU');
    const tput = judged.filter((j) => j.figure === 'throughput');
    const parts: string[] = [];
    if (cpu.length > 0) {
      parts.push(
        `CPU per request, tracking on / off: ${list(cpu)}: ` +
          (cpu.every(ok) ? `within ${tol} %.` : `**not** within ${tol} %.`),
      );
    }
    if (tput.length > 0) {
      const text = `Throughput, tracking on / off: ${list(tput)}: `;
      if (tput.every(ok)) parts.push(`${text}within ${tol} %.`);
      else if (tput.filter((j) => !ok(j)).every((j) => j.loadBound)) {
        parts.push(
          `${text}not within ${tol} %, but where it is not, neither variant kept its core ${PROXY_BOUND_BUSY_PCT} % busy: ` +
            'the load side (and whatever else ran on the machine) set the pace, not the proxy; compare the per-run range.',
        );
      } else parts.push(`${text}**not** within ${tol} %.`);
    }
    const verdict = judged.every(ok)
      ? 'Issue #8 criterion (under 5 % apart): met in this run.'
      : cpu.every(ok)
        ? 'Issue #8 criterion (under 5 % apart): met for CPU per request, not for throughput in this run.'
        : 'Issue #8 criterion (under 5 % apart): not met in this run.';
    out.push(`${parts.join(' ')} ${verdict}`, '');
  }
  return out;
}

interface SinceRow {
  readonly key: string;
  readonly title: string;
  /** Higher is better (rates) rather than lower (CPU, memory). */
  readonly higherBetter: boolean;
  readonly fmt: (n: number) => string;
}

const SINCE_ROWS: readonly SinceRow[] = [
  {
    key: 'bulk-iperf-p1/cpuPerOpUs',
    title: 'iperf3, 1 stream: CPU µs per MB',
    higherBetter: false,
    fmt: num,
  },
  {
    key: 'bulk-iperf-p8/cpuPerOpUs',
    title: 'iperf3, 8 streams: CPU µs per MB',
    higherBetter: false,
    fmt: num,
  },
  {
    key: 'bulk-iperf-p1/throughput',
    title: 'iperf3, 1 stream: Gbit/s',
    higherBetter: true,
    fmt: (n) => n.toFixed(2),
  },
  {
    key: 'bulk-bench-c8/cpuPerOpUs',
    title: 'headway bench stream, 8 connections: CPU µs per MB',
    higherBetter: false,
    fmt: num,
  },
  {
    key: 'rr-redis-c50/cpuPerOpUs',
    title: 'redis-benchmark GET, 50 connections: CPU µs per request',
    higherBetter: false,
    fmt: num,
  },
  {
    key: 'rr-bench-c50/cpuPerOpUs',
    title: 'headway bench rr, 50 connections: CPU µs per exchange',
    higherBetter: false,
    fmt: num,
  },
  {
    key: 'rr-redis-c1/cpuPerOpUs',
    title: 'redis-benchmark GET, 1 connection: CPU µs per request',
    higherBetter: false,
    fmt: num,
  },
  {
    key: 'connrate-wrk/throughput',
    title: 'wrk, Connection: close: conn/s',
    higherBetter: true,
    fmt: num,
  },
  {
    key: 'connrate-wrk/cpuPerOpUs',
    title: 'wrk, Connection: close: CPU µs per connection',
    higherBetter: false,
    fmt: num,
  },
  {
    key: 'connrate-bench/throughput',
    title: 'headway bench connect: conn/s',
    higherBetter: true,
    fmt: num,
  },
  {
    key: 'connrate-bench/cpuPerOpUs',
    title: 'headway bench connect: CPU µs per connection',
    higherBetter: false,
    fmt: num,
  },
  {
    key: 'rss-idle/kibPerConnection',
    title: 'idle connections: KiB per connection',
    higherBetter: false,
    fmt: (n) => n.toFixed(2),
  },
  {
    key: 'rss-idle/beforeMiB',
    title: 'RSS at start, MiB',
    higherBetter: false,
    fmt: (n) => n.toFixed(1),
  },
];

function sinceSection(c: Collected, base: KeyFigures): string[] {
  const now = keyFigures(c, 'this run');
  const arrow = (a: number | undefined, b: number | undefined, f: (n: number) => string): string =>
    a === undefined && b === undefined
      ? '–'
      : `${a === undefined ? '–' : f(a)} → ${b === undefined ? '–' : f(b)}`;
  const ratio = (
    fig: Partial<Record<Target, number>> | undefined,
    other: Target,
  ): number | undefined => {
    const h = fig?.headway;
    const o = fig?.[other];
    return h === undefined || o === undefined || o <= 0 ? undefined : h / o;
  };
  const ratioText = (r: number | undefined): string => (r === undefined ? '–' : r.toFixed(2));
  const out = [
    `## What changed since the ${base.label}`,
    '',
    `The ${base.label} (${base.date}, Headway ${headwayText(base.headway) ?? '?'}) is the baseline here` +
      (base.since !== undefined && base.since.length > 0
        ? `. Since then: ${base.since.join('; ')}.`
        : '.'),
    '',
  ];
  // A sentence per key figure, then the table.
  const sentences: string[] = [];
  const say = (key: string, what: string, unit: string): void => {
    const row = SINCE_ROWS.find((r) => r.key === key);
    const a = base.figures[key]?.headway;
    const b = now.figures[key]?.headway;
    if (row === undefined || a === undefined || b === undefined) return;
    const ha0 = ratio(base.figures[key], 'haproxy');
    const ha1 = ratio(now.figures[key], 'haproxy');
    const ng0 = ratio(base.figures[key], 'nginx');
    const ng1 = ratio(now.figures[key], 'nginx');
    sentences.push(
      `${what} went from ${row.fmt(a)} to ${row.fmt(b)} ${unit} (${signedPct(b / a)}; ` +
        `Headway/HAProxy ${ratioText(ha0)}× → ${ratioText(ha1)}×, Headway/NGINX ${ratioText(ng0)}× → ${ratioText(ng1)}×)`,
    );
  };
  say('bulk-iperf-p1/cpuPerOpUs', 'CPU per MB relayed (iperf3, 1 stream)', 'µs');
  say('bulk-iperf-p8/cpuPerOpUs', 'with 8 streams', 'µs');
  say('rr-redis-c50/cpuPerOpUs', 'CPU per request (redis-benchmark GET, 50 connections)', 'µs');
  say('rr-bench-c50/cpuPerOpUs', 'per 64-byte exchange (headway bench rr, 50 connections)', 'µs');
  say('connrate-wrk/throughput', 'the connection rate (wrk, Connection: close)', 'conn/s');
  say('connrate-wrk/cpuPerOpUs', 'CPU per connection there', 'µs');
  say('rss-idle/kibPerConnection', 'RSS per idle proxied connection', 'KiB');
  say('rss-idle/beforeMiB', 'RSS at start', 'MiB');
  if (sentences.length > 0) {
    out.push(
      `Key figures, first run → this run: ${sentences.join('; ')}. HAProxy and NGINX did not change, so their ` +
        'own drift between the two runs (the "HAProxy" column) shows how much the machine moved; the ratios to them ' +
        'are the figures to compare. Headway is the default configuration in both runs (this run adds an access log); ' +
        'the "tracking off" column is this run without latency tracking and access log, where measured.',
      '',
    );
  }
  out.push(
    '| figure | Headway | Headway, tracking off (this run) | HAProxy | Headway/HAProxy | Headway/NGINX |',
    '| --- | --- | --- | --- | --- | --- |',
  );
  for (const row of SINCE_ROWS) {
    const b0 = base.figures[row.key];
    const b1 = now.figures[row.key];
    if (b0 === undefined && b1 === undefined) continue;
    const bare = b1?.['headway-bare'];
    out.push(
      `| ${row.title} | ${arrow(b0?.headway, b1?.headway, row.fmt)} | ${bare === undefined ? '–' : row.fmt(bare)} | ` +
        `${arrow(b0?.haproxy, b1?.haproxy, row.fmt)} | ` +
        `${arrow(ratio(b0, 'haproxy'), ratio(b1, 'haproxy'), (n) => `${n.toFixed(2)}×`)} | ` +
        `${arrow(ratio(b0, 'nginx'), ratio(b1, 'nginx'), (n) => `${n.toFixed(2)}×`)} |`,
    );
  }
  out.push('', 'Cells read "first run → this run".', '');
  return out;
}

function quietText(env: Map<string, string>): string | undefined {
  const left = env.get('quiet_budget_left');
  if (left === undefined) return undefined;
  if (Number(env.get('nice') ?? 0) < 0) return 'none: raised priority instead';
  return `${90 - Number(left)} s of the 90 s budget used`;
}

/** The commit, and whether the working tree differed from it (the data path is measured as it was). */
function headwayText(raw: string | undefined): string | undefined {
  const m = /^(\S+) \(modified(?:, diff (\S+))?\)$/.exec(raw ?? '');
  if (m === null) return raw;
  const diff = m[2] === undefined ? '' : ` (diff sha256 ${m[2]})`;
  return `${m[1] ?? ''} plus uncommitted changes in src/${diff}`;
}

function rssPerConnection(rss: readonly RssMeasurement[]): Map<Target, Spread> {
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

const GROUP_TITLE = {
  rr: 'Request/response',
  bulk: 'Bulk transfer',
  connrate: 'Connection rate',
} as const;

const GROUP_TEXT = {
  rr:
    'One request in flight per connection. redis-benchmark talks to redis-server; `headway bench rr` ' +
    'sends 64 bytes to `headway echo` and waits for them to come back.',
  bulk:
    'iperf3 sends one way (client to the one iperf3 server, through the proxy); `headway bench stream` ' +
    'writes 64 KiB chunks to `headway echo` and reads the echo, so the proxy relays both directions ' +
    '(CPU per MB counts both).',
  connrate:
    'A new connection for every exchange. wrk sends `Connection: close` requests to an NGINX HTTP backend; ' +
    '`headway bench connect` connects to `headway echo`, exchanges 64 bytes and closes. Latency is ' +
    'connect plus the first reply.',
} as const;

function commandsSection(c: Collected): string[] {
  const out = ['## Exact commands', ''];
  const compiled = c.env.get('headway_runtime') === 'compiled';
  const entry = compiled ? 'node dist/cli/main.js' : 'node src/cli/main.ts';
  const proxies = [
    '# Headway: one process per backend kind (echo 21000, http 21080, iperf 21201, redis 21379)',
    c.env.get('headway_cmd') ??
      'node src/cli/main.ts --listen 127.0.0.1:21000 --backends static://127.0.0.1:19000 --admin off --log-level warn',
  ];
  const bare = c.env.get('headway_bare_cmd');
  if (bare !== undefined && c.measurements.some((m) => m.target === 'headway-bare')) {
    proxies.push('# Headway, tracking off: echo 24000, http 24080, redis 24379', bare);
  }
  out.push(
    'Backends (pinned with `taskset -c 0`):',
    '',
    '```',
    `${entry} echo --listen 127.0.0.1:19000`,
    "redis-server --bind 127.0.0.1 --port 16379 --save '' --appendonly no --protected-mode no --daemonize no",
    'iperf3 --server --bind 127.0.0.1 --port 15201',
    'nginx -c bench/config/nginx-http.conf            # return 200 "ok\\n" on 127.0.0.1:18080',
    'redis-cli -p 16379 SET key:__rand_int__ <64 bytes>  # so that GET returns 64 bytes',
    '```',
    '',
    'Proxies (pinned with `taskset -c 1`; each listens on its own loopback port per backend):',
    '',
    '```',
    ...proxies,
    'haproxy -db -f bench/config/haproxy.cfg              # mode tcp, nbthread 1, maxconn 9000; ports 22xxx',
    'nginx -c bench/config/nginx-stream.conf              # worker_processes 1, worker_rlimit_nofile 20000; ports 23xxx',
    '```',
    '',
    'Load (pinned with `taskset -c 0`; shown for the Headway port of each test; direct, HAProxy and NGINX differ only in the port):',
    '',
    '```',
  );
  for (const t of TESTS) {
    const m = c.measurements.find((x) => x.test === t.id && x.target === 'headway' && x.run === 1);
    if (m !== undefined) {
      out.push(
        m.cmd
          .replace(/ --json \S+/, ' --json OUT.json')
          .replace(/^node \S+\/dist\/cli\/main\.js/, entry),
      );
    }
  }
  const r = c.rss.find((x) => x.target === 'headway');
  if (r !== undefined) out.push(r.cmd);
  out.push('```', '');
  return out;
}

const NOTES = [
  '## Reading these numbers',
  '',
  '- Two cores: the load generators and the backends share CPU 0, so for most figures the load side is the limit, ' +
    'not the proxy. The "proxy core busy" column shows which: near 100 % the proxy set the pace.',
  "- CPU per operation is the proxy process's user + system time (from `/proc/PID/stat`, all threads) divided by the " +
    "operations in the run; for NGINX it is the worker process. It includes the kernel's work on the proxy's sockets.",
  '- With one connection, every exchange through a proxy wakes another core twice; direct traffic stays on CPU 0. ' +
    'On a virtual machine those cross-core wake-ups dominate single-connection latency, so compare proxies with each ' +
    'other there, not with direct.',
  '- Headway runs on Node.js with a JIT: bench/compare warms every proxy up before measuring.',
  '- RSS counts user-space memory only; socket buffers live in the kernel.',
  `- † marks a target where, in some run, processes other than the proxy took more than ${STRAY_LIMIT_PCT} % of the proxy core ` +
    '(for direct: any process on CPU 1): something else was running on the machine.',
  '',
];

/**
 * Issue #11's targets, each with what this run reached. A throughput target
 * can only be judged where the proxies, not the load side, set the pace; then
 * the CPU-per-operation ratio stands in for it and the row says so.
 */
function targetsSection(
  cell: (test: string, target: Target) => Cell | undefined,
  rssHeadway: Spread | undefined,
): string[] {
  const rows: string[] = [];
  const verdict = (ok: boolean | undefined): string =>
    ok === undefined ? 'not measured' : ok ? 'met' : '**not met**';
  const vs = (test: string): { hw?: Cell; ha?: Cell } => {
    const hw = cell(test, 'headway');
    const ha = cell(test, 'haproxy');
    return { ...(hw === undefined ? {} : { hw }), ...(ha === undefined ? {} : { ha }) };
  };
  for (const test of ['rr-redis-c50', 'rr-bench-c50']) {
    const { hw, ha } = vs(test);
    const title = TESTS.find((t) => t.id === test)?.title ?? test;
    const cpu = medianRatio(hw?.cpuPerOpUs, ha?.cpuPerOpUs);
    rows.push(
      `| ${title}: proxy CPU per request ≤ HAProxy's | ${times(cpu)} | ${verdict(cpu === undefined ? undefined : cpu <= 1)} |`,
    );
    const tp = throughputRatio(hw, ha, false);
    rows.push(
      `| ${title}: requests/s ≥ 1.0× HAProxy where the proxy core is the bottleneck | ` +
        `${tp.bound ? times(tp.value) : `load-bound (seen ${times(tp.value)})`} | ` +
        `${tp.bound ? verdict(tp.value === undefined ? undefined : tp.value >= 1) : 'not judged: load-bound (CPU per request above is the figure)'} |`,
    );
    const p99hw = hw?.p99Us?.median;
    const p99ha = ha?.p99Us?.median;
    const diff = p99hw !== undefined && p99ha !== undefined ? p99hw - p99ha : undefined;
    rows.push(
      `| ${title}: p99 ≤ HAProxy's p99 + 0.3 ms | ${diff === undefined ? '–' : `${diff >= 0 ? '+' : '−'}${num(Math.abs(diff))} µs`} | ${verdict(diff === undefined ? undefined : diff <= 300)} |`,
    );
  }
  for (const test of ['bulk-iperf-p1', 'bulk-iperf-p8']) {
    const { hw, ha } = vs(test);
    const title = TESTS.find((t) => t.id === test)?.title ?? test;
    const tp = throughputRatio(hw, ha, false);
    const cpu = medianRatio(hw?.cpuPerOpUs, ha?.cpuPerOpUs);
    rows.push(
      `| ${title}: throughput ≥ 1.5× HAProxy | ${tp.bound ? times(tp.value) : `load-bound (seen ${times(tp.value)}; CPU/MB ${times(cpu)})`} | ` +
        `${verdict(tp.value === undefined ? undefined : tp.value >= 1.5)} |`,
    );
  }
  {
    const { hw, ha } = vs('connrate-wrk');
    const tp = throughputRatio(hw, ha, false);
    const cpu = medianRatio(hw?.cpuPerOpUs, ha?.cpuPerOpUs);
    rows.push(
      `| connection rate (wrk, Connection: close) ≥ 0.8× HAProxy | ${times(tp.value)}${tp.bound ? '' : ' (load-bound)'} | ${verdict(tp.value === undefined ? undefined : tp.value >= 0.8)} |`,
      `| CPU per connection ≤ 1.25× HAProxy's | ${times(cpu)} | ${verdict(cpu === undefined ? undefined : cpu <= 1.25)} |`,
    );
  }
  rows.push(
    `| RSS per idle proxied connection ≤ 4 KiB | ${rssHeadway === undefined ? '–' : `${num(rssHeadway.median)} KiB`} | ${verdict(rssHeadway === undefined ? undefined : rssHeadway.median <= 4)} |`,
    '| `--workers N` (multi-core) | see "Worker threads" below | built; scaling load-bound on 2 cores |',
  );
  return [
    '## Issue #11 targets',
    '',
    'Headway with tracking, metrics and access log on, against HAProxy, in this run. ' +
      'What bounds the targets not met, with the profiles, is in "What bounds the data path" below.',
    '',
    '| target | reached | verdict |',
    '| --- | --- | --- |',
    ...rows,
    '',
  ];
}

function mdEscape(s: string): string {
  return s.replaceAll('|', '\\|');
}

if (import.meta.main) {
  const usage =
    'usage: node bench/render-results.ts bench/results/<time> [--baseline KEY-FIGURES.json]\n' +
    '       node bench/render-results.ts --key-figures bench/results/<time> [LABEL]   (prints the JSON)\n';
  const args = process.argv.slice(2);
  if (args[0] === '--key-figures' && args[1] !== undefined) {
    process.stdout.write(
      `${JSON.stringify(keyFigures(collect(args[1]), args[2] ?? 'earlier run'), null, 2)}\n`,
    );
  } else if (
    args[0] !== undefined &&
    !args[0].startsWith('--') &&
    (args.length === 1 || (args[1] === '--baseline' && args[2] !== undefined))
  ) {
    const baseline = args[2] === undefined ? undefined : readBaseline(args[2]);
    process.stdout.write(
      render({ ...collect(args[0]), ...(baseline === undefined ? {} : { baseline }) }),
    );
  } else {
    process.stderr.write(usage);
    process.exit(2);
  }
}

function readBaseline(path: string): KeyFigures {
  const doc = JSON.parse(readFileSync(path, 'utf8')) as { readonly schema?: unknown };
  if (doc.schema !== 'headway-compare-key-figures/v1') {
    throw new Error(`${path}: not a headway-compare-key-figures/v1 document`);
  }
  return doc as KeyFigures;
}
