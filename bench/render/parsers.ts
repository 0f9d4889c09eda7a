/** Reading a results directory: env.txt, each run's .meta and its tool's output (redis-benchmark, headway bench, iperf3, wrk). */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  TARGETS,
  type Collected,
  type KeyFigures,
  type Measurement,
  type RssMeasurement,
  type Target,
} from './model.ts';
import { readYardstick } from './yardstick-figures.ts';

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
  const yardstick = readYardstick(dir);
  return { env, measurements, rss, ...(yardstick === undefined ? {} : { yardstick }) };
}

export function readBaseline(path: string): KeyFigures {
  const doc = JSON.parse(readFileSync(path, 'utf8')) as { readonly schema?: unknown };
  if (doc.schema !== 'headway-compare-key-figures/v1') {
    throw new Error(`${path}: not a headway-compare-key-figures/v1 document`);
  }
  return doc as KeyFigures;
}
