import { describe, expect, it } from 'vitest';
import {
  YARDSTICK_SCHEMA,
  type Collected,
  type Measurement,
  type RssMeasurement,
  type Target,
  type YardstickReport,
} from '../../bench/render/model.ts';
import { parseKeyValues } from '../../bench/render/parsers.ts';
import { render } from '../../bench/render/report.ts';
import { connectionCostSection } from '../../bench/render/sections/connection-cost.ts';
import { summarise, type Cell } from '../../bench/render/statistics.ts';
import {
  parseYardstickJson,
  parseYardstickMarkdown,
} from '../../bench/render/yardstick-figures.ts';

const OPS = 10_000;

/** One run of `test` for `target`: `cpuUs` proxy CPU per operation, `throughput` per second. */
function run(
  test: string,
  target: Target,
  runNo: number,
  cpuUs: number,
  throughput = 1000,
): Measurement {
  return {
    test,
    target,
    run: runNo,
    ok: true,
    throughput,
    ops: OPS,
    activeSec: 2,
    errors: 0,
    cpuSec: (cpuUs * OPS) / 1e6,
    cmd: 'x',
  };
}

/** Three interleaved runs with these per-run CPU figures (and throughputs). */
function runs(
  test: string,
  target: Target,
  cpuUs: readonly number[],
  throughput: readonly number[] = [1000, 1000, 1000],
): Measurement[] {
  return cpuUs.map((c, i) => run(test, target, i + 1, c, throughput[i]));
}

function rss(runNo: number, kibPerConnection: number): RssMeasurement {
  return {
    target: 'headway',
    run: runNo,
    opened: 8000,
    failed: 0,
    beforeKb: 100_000,
    afterKb: 100_000 + 8000 * kibPerConnection,
    cmd: 'x',
  };
}

function yardstick(headway: number[], raw: number[]): YardstickReport {
  const variant = (id: 'headway' | 'raw-relay', connectCpuUs: number[]) => ({
    id,
    name: id,
    rrCpuUs: [30, 30, 30],
    connectCpuUs,
    idleKibPerConnection: [3, 3, 3],
  });
  return {
    schema: YARDSTICK_SCHEMA,
    date: '2026-12-07T00:00:00.000Z',
    runs: 3,
    seconds: 2,
    idle: 8000,
    variants: [variant('headway', headway), variant('raw-relay', raw)],
  };
}

/**
 * Per figure: Headway against HAProxy, tracking off or the raw relay, chosen
 * so that each ratio is a round number on one side of its target (none on the
 * boundary); `headway bench rr` at 50 connections is left out: not measured.
 */
function sample(extra: Partial<Collected> = {}): Collected {
  const measurements = [
    // connect: CPU 130 / 100 = 1.30× HAProxy (target ≤ 1.25×); on / off 130 / 125 = 1.04× (≤ 1.05×).
    ...runs('connrate-bench', 'headway', [120, 130, 140]),
    ...runs('connrate-bench', 'headway-bare', [125, 125, 125]),
    ...runs('connrate-bench', 'haproxy', [100, 100, 100]),
    // wrk: 800 / 1000 conn/s = 0.80× HAProxy (≥ 0.7×); CPU 200 / 100 = 2.00×; on / off 200 / 160 = 1.25×.
    ...runs('connrate-wrk', 'headway', [200, 200, 200], [700, 800, 900]),
    ...runs('connrate-wrk', 'headway-bare', [160, 160, 160]),
    ...runs('connrate-wrk', 'haproxy', [100, 100, 100], [1000, 1000, 1000]),
    // redis GET ×50: CPU 10.5 / 10 = 1.05× HAProxy (≤ 1.10×).
    ...runs('rr-redis-c50', 'headway', [10.5, 10.5, 10.5]),
    ...runs('rr-redis-c50', 'haproxy', [10, 10, 10]),
  ];
  return {
    env: parseKeyValues('runs=3\nidle=8000'),
    measurements,
    rss: [rss(1, 3.4), rss(2, 3.5), rss(3, 3.6)],
    // 120 / 100 = 1.20× the raw relay (≤ 1.10×); per run 1.10×–1.30×.
    yardstick: { report: yardstick([110, 120, 130], [100, 100, 100]), source: 'json' },
    ...extra,
  };
}

function section(c: Collected): string[] {
  const cells = new Map<string, Cell>();
  for (const m of c.measurements) {
    const key = `${m.test}/${m.target}`;
    if (!cells.has(key)) {
      cells.set(
        key,
        summarise(c.measurements.filter((x) => x.test === m.test && x.target === m.target)),
      );
    }
  }
  return connectionCostSection(c, (test, target) => cells.get(`${test}/${target}`));
}

/** The cells of the table row whose figure starts with `figure`. */
function row(lines: readonly string[], figure: string): string[] {
  const line = lines.find((l) => l.startsWith(`| ${figure}`));
  if (line === undefined) throw new Error(`no row ${figure}`);
  return line.split(' | ').map((c) => c.replace(/^\| | \|$/g, ''));
}

describe('issue #19 section: connection setup cost', () => {
  it('computes each ratio and decides met or not met against its target', () => {
    const lines = section(sample());
    expect(lines[0]).toBe('## Issue #19: connection setup cost');

    const connect = row(lines, 'CPU per connection, `headway bench connect` 50 at once: × HAProxy');
    expect(connect.slice(1, 4)).toEqual(['1.30× (per run 1.20×–1.40×)', '≤ 1.25×', '**not met**']);
    expect(connect[4]).toBe('Headway 130 (120–140) µs, HAProxy 100 µs');

    const raw = row(
      lines,
      'CPU per connection, `headway bench connect` 50 at once: × the raw relay',
    );
    expect(raw.slice(1, 4)).toEqual(['1.20× (per run 1.10×–1.30×)', '≤ 1.10×', '**not met**']);

    const rate = row(lines, 'connections/s, wrk');
    expect(rate.slice(1, 4)).toEqual([
      // HAProxy's core was half busy: the load side set its pace.
      '0.80× (per run 0.70×–0.90×), load-bound; CPU per connection 2.00× (per run 2.00×)',
      '≥ 0.70×',
      'met',
    ]);

    const wrkTracking = row(
      lines,
      'tracking + access log on / off, CPU per connection: wrk `Connection: close`',
    );
    expect(wrkTracking.slice(1, 4)).toEqual(['1.25× (per run 1.25×)', '≤ 1.05×', '**not met**']);
    const connectTracking = row(
      lines,
      'tracking + access log on / off, CPU per connection: `headway bench connect`',
    );
    expect(connectTracking.slice(1, 4)).toEqual(['1.04× (per run 0.96×–1.12×)', '≤ 1.05×', 'met']);

    const redis = row(lines, 'CPU per request, redis-benchmark GET, 50 connections: × HAProxy');
    expect(redis.slice(1, 4)).toEqual(['1.05× (per run 1.05×)', '≤ 1.10×', 'met']);

    const rss = row(lines, 'RSS per idle proxied connection, 8,000 held');
    expect(rss.slice(1, 4)).toEqual(['3.50 (3.40–3.60) KiB', '≤ 4 KiB', 'met']);
  });

  it('says "not measured in this run" for a figure the run lacks, and counts only what was measured', () => {
    const lines = section(sample());
    const rr = row(lines, 'CPU per exchange, `headway bench rr` 64 B, 50 connections: × HAProxy');
    expect(rr.slice(1, 5)).toEqual(['not measured in this run', '≤ 1.10×', '–', '–']);
    expect(lines).toContain(
      'Issue #19 targets: 4 of the 7 measured in this run met (1 not measured).',
    );

    const empty = section({ env: new Map(), measurements: [], rss: [] });
    const rows = empty.filter((l) => l.startsWith('| ') && !/^\| (figure|---) /.test(l));
    expect(rows).toHaveLength(8);
    for (const r of rows) expect(r).toContain('| not measured in this run |');
    expect(empty).toContain('Issue #19 targets: none measured in this run.');
  });

  it('judges the raw-relay ratio from yardstick.md medians when the run has no yardstick.json', () => {
    const markdown = [
      '## Yardstick: a relay on raw libuv handles',
      '',
      'Measured by `bench/yardstick.ts` (3 interleaved runs of 2 s, medians; 8000 idle connections for memory, a fresh process each run; 2026-12-07T02:28:24.966Z). More text.',
      '',
      '| variant | CPU µs per 64 B exchange (rr, 50 conn.) | CPU µs per connection (connect, 50 at once) | RSS KiB per idle proxied connection |',
      '| --- | --- | --- | --- |',
      '| Headway (tracking, metrics, access log on) | 38.7 (1.33× raw) | 1,105.0 (1.05× raw) | 3.10 |',
      '| Headway, tracking and access log off, no health checks | 37.6 (1.30× raw) | 1,080.0 (1.03× raw) | 3.04 |',
      '| raw libuv relay (bench/raw-relay.ts) | 29.0 (1.00× raw) | 1,050.0 (1.00× raw) | 2.44 |',
      '',
    ].join('\n');
    const report = parseYardstickMarkdown(markdown);
    expect(report?.runs).toBe(3);
    expect(report?.idle).toBe(8000);
    expect(report?.variants.map((v) => [v.id, v.connectCpuUs])).toEqual([
      ['headway', [1105]],
      ['headway-features-off', [1080]],
      ['raw-relay', [1050]],
    ]);
    if (report === undefined) throw new Error('unparsed');
    const lines = section(sample({ yardstick: { report, source: 'markdown' } }));
    const raw = row(
      lines,
      'CPU per connection, `headway bench connect` 50 at once: × the raw relay',
    );
    // 1105 / 1050 = 1.052: no per-run ratios from medians alone.
    expect(raw.slice(1, 4)).toEqual(['1.05×', '≤ 1.10×', 'met']);
    expect(raw[4]).toContain('(medians of 3 runs, from yardstick.md)');

    expect(parseYardstickMarkdown('## Yardstick\n\nno table')).toBeUndefined();
    expect(parseYardstickJson('{"schema":"other"}')).toBeUndefined();
    expect(parseYardstickJson('{"schema":')).toBeUndefined();
    const json = yardstick([1], [2]);
    expect(parseYardstickJson(JSON.stringify(json))).toEqual(json);
  });

  it('shows the change table verbatim below the targets when there is one, and nothing otherwise', () => {
    const table =
      '| change | effect |\n| --- | --- |\n| one fewer setsockopt | −3 µs per connection |\n';
    const withTable = section(sample({ connectionCostChanges: table }));
    const at = withTable.findIndex((l) => l.includes('bench/config/connection-cost-changes.md'));
    expect(at).toBeGreaterThan(withTable.findIndex((l) => l.startsWith('Issue #19 targets:')));
    expect(withTable.slice(at + 2, at + 3)).toEqual([table.trimEnd()]);
    expect(section(sample()).join('\n')).not.toContain('connection-cost-changes.md');
  });

  it('comes after the tracking on / off section in the report', () => {
    const text = render(sample());
    const tracking = text.indexOf('## Latency tracking and access log: on / off');
    const cost = text.indexOf('## Issue #19: connection setup cost');
    expect(tracking).toBeGreaterThan(0);
    expect(cost).toBeGreaterThan(tracking);
    expect(cost).toBeLessThan(text.indexOf('## Request/response'));
  });
});
