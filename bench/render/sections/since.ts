/** The report's section comparing this run's key figures with an earlier run's (`--baseline`). */
import { num, signedPct } from '../format.ts';
import type { Collected, KeyFigures, Target } from '../model.ts';
import { headwayText } from './environment.ts';
import { keyFigures } from '../statistics.ts';

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

export function sinceSection(c: Collected, base: KeyFigures): string[] {
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
