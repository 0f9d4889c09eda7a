/** The report's section on issue #19, connection setup cost: each target, what this run reached, met or not. */
import { int, ratioRange, times, withRange } from '../format.ts';
import { LABEL, type Collected, type Measurement, type Target } from '../model.ts';
import {
  cpuPerOp,
  medianRatio,
  pairedRatios,
  ratiosByRun,
  rssPerConnection,
  spread,
  throughputRatio,
  type Cell,
  type Spread,
} from '../statistics.ts';

/** Issue #19's targets: Headway (tracking, metrics and access log on) against each comparison. */
export const CONNECTION_COST_TARGETS = {
  /** Proxy CPU per connection, `headway bench connect`, over HAProxy's: at most. */
  cpuPerConnectionVsHaproxy: 1.25,
  /** The same over bench/raw-relay.ts's, as bench/yardstick.ts measures it: at most. */
  cpuPerConnectionVsRawRelay: 1.1,
  /** Connections per second, wrk `Connection: close`, over HAProxy's: at least. */
  connectionRateVsHaproxy: 0.7,
  /** CPU per connection with latency tracking and access log on over off: at most. */
  trackingOnOverOff: 1.05,
  /** Proxy CPU per request at 50 connections over HAProxy's: at most. */
  cpuPerRequestVsHaproxy: 1.1,
  /** RSS per idle proxied connection, KiB: at most. */
  rssPerIdleConnectionKib: 4,
} as const;

/** The idle count of a full bench/compare run; a smaller one (`--quick`, `--idle`) is named in the row. */
const FULL_RUN_IDLE = 8000;

const NOT_MEASURED = 'not measured in this run';

interface Row {
  readonly figure: string;
  /** What this run reached, as shown; undefined when the run did not measure it. */
  readonly reached: string | undefined;
  readonly target: string;
  /** undefined when not measured. */
  readonly met: boolean | undefined;
  /** The medians behind the figure, with min–max. */
  readonly measured: string;
}

export function connectionCostSection(
  c: Collected,
  cell: (test: string, target: Target) => Cell | undefined,
): string[] {
  const T = CONNECTION_COST_TARGETS;
  const ms = c.measurements;
  const us = (s: Spread | undefined, unit = 'µs'): string => `${withRange(s)} ${unit}`;

  /** A figure of Headway's over `other`'s in `test`: the ratio of the medians, and the per-run ratios beside it. */
  const versus = (
    test: string,
    other: Target,
    pick: (x: Cell | undefined) => Spread | undefined,
    perRun: (m: Measurement) => number | undefined,
    unit = 'µs',
  ): { ratio: number | undefined; reached: string | undefined; measured: string } => {
    const a = pick(cell(test, 'headway'));
    const b = pick(cell(test, other));
    const ratio = medianRatio(a, b);
    return {
      ratio,
      reached: ratioText(ratio, pairedRatios(ms, test, perRun, 'headway', other)),
      measured:
        a === undefined || b === undefined
          ? '–'
          : `${LABEL.headway} ${us(a, unit)}, ${LABEL[other]} ${us(b, unit)}`,
    };
  };
  const cpuOf = (x: Cell | undefined): Spread | undefined => x?.cpuPerOpUs;

  const rows: Row[] = [];

  const connectCpu = versus('connrate-bench', 'haproxy', cpuOf, cpuPerOp);
  rows.push({
    figure: 'CPU per connection, `headway bench connect` 50 at once: × HAProxy',
    reached: connectCpu.reached,
    target: `≤ ${times(T.cpuPerConnectionVsHaproxy)}`,
    met: atMost(connectCpu.ratio, T.cpuPerConnectionVsHaproxy),
    measured: connectCpu.measured,
  });

  const raw = rawRelayRatio(c);
  rows.push({
    figure:
      'CPU per connection, `headway bench connect` 50 at once: × the raw relay (bench/yardstick.ts)',
    reached: raw.reached,
    target: `≤ ${times(T.cpuPerConnectionVsRawRelay)}`,
    met: atMost(raw.ratio, T.cpuPerConnectionVsRawRelay),
    measured: raw.measured,
  });

  const rate = versus(
    'connrate-wrk',
    'haproxy',
    (x) => x?.throughput,
    (m) => m.throughput,
    'conn/s',
  );
  const rateCpu = versus('connrate-wrk', 'haproxy', cpuOf, cpuPerOp);
  const bound = throughputRatio(
    cell('connrate-wrk', 'headway'),
    cell('connrate-wrk', 'haproxy'),
    false,
  ).bound;
  rows.push({
    figure:
      'connections/s, wrk `Connection: close` 50 connections: × HAProxy (beside it: CPU per connection × HAProxy)',
    reached:
      rate.reached === undefined
        ? undefined
        : `${rate.reached}${bound ? '' : ', load-bound'}; CPU per connection ${rateCpu.reached ?? '–'}`,
    target: `≥ ${times(T.connectionRateVsHaproxy)}`,
    met: rate.ratio === undefined ? undefined : rate.ratio >= T.connectionRateVsHaproxy,
    measured:
      rate.measured === '–' ? '–' : `${rate.measured}; CPU per connection: ${rateCpu.measured}`,
  });

  for (const [test, title] of [
    ['connrate-wrk', 'wrk `Connection: close`'],
    ['connrate-bench', '`headway bench connect`'],
  ] as const) {
    const on = cell(test, 'headway')?.cpuPerOpUs;
    const off = cell(test, 'headway-bare')?.cpuPerOpUs;
    const ratio = medianRatio(on, off);
    rows.push({
      figure: `tracking + access log on / off, CPU per connection: ${title}`,
      reached: ratioText(ratio, pairedRatios(ms, test, cpuPerOp)),
      target: `≤ ${times(T.trackingOnOverOff)}`,
      met: atMost(ratio, T.trackingOnOverOff),
      measured: on === undefined || off === undefined ? '–' : `on ${us(on)}, off ${us(off)}`,
    });
  }

  for (const [test, title] of [
    ['rr-redis-c50', 'CPU per request, redis-benchmark GET, 50 connections'],
    ['rr-bench-c50', 'CPU per exchange, `headway bench rr` 64 B, 50 connections'],
  ] as const) {
    const cpu = versus(test, 'haproxy', cpuOf, cpuPerOp);
    rows.push({
      figure: `${title}: × HAProxy`,
      reached: cpu.reached,
      target: `≤ ${times(T.cpuPerRequestVsHaproxy)}`,
      met: atMost(cpu.ratio, T.cpuPerRequestVsHaproxy),
      measured: cpu.measured,
    });
  }

  rows.push(rssRow(c));

  const measured = rows.filter((r) => r.met !== undefined);
  const out = [
    '## Issue #19: connection setup cost',
    '',
    'What a proxied connection costs Headway (latency tracking, metrics and access log on) to set up, relay and ' +
      'hold, against HAProxy, against Headway with tracking and access log off, and against bench/raw-relay.ts (the ' +
      'yardstick below). A ratio is that of the medians of the interleaved runs; "per run" is the range of the ' +
      'ratios of the two measurements taken in the same run, which shows how much of it is noise. The medians ' +
      'behind each ratio, with min–max, are in the last column. A target is judged on the ratio of the medians.',
    '',
    '| figure | reached | target | verdict | measured: median (min–max) |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.figure} | ${r.reached ?? NOT_MEASURED} | ${r.target} | ${verdict(r.met)} | ${r.measured} |`,
    ),
    '',
    measured.length === 0
      ? 'Issue #19 targets: none measured in this run.'
      : `Issue #19 targets: ${measured.filter((r) => r.met === true).length} of the ${measured.length} measured in this run met` +
        (measured.length < rows.length ? ` (${rows.length - measured.length} not measured).` : '.'),
    '',
  ];
  if (c.connectionCostChanges !== undefined) {
    out.push(
      'The changes made for issue #19, each with its measured effect (bench/config/connection-cost-changes.md):',
      '',
      c.connectionCostChanges.trimEnd(),
      '',
    );
  }
  return out;
}

function atMost(ratio: number | undefined, limit: number): boolean | undefined {
  return ratio === undefined ? undefined : ratio <= limit;
}

function verdict(met: boolean | undefined): string {
  return met === undefined ? '–' : met ? 'met' : '**not met**';
}

function ratioText(ratio: number | undefined, perRun: Spread | undefined): string | undefined {
  if (ratio === undefined) return undefined;
  return perRun === undefined ? times(ratio) : `${times(ratio)} (per run ${ratioRange(perRun)})`;
}

/** Headway's CPU per connection over the raw relay's, from the yardstick's runs. */
function rawRelayRatio(c: Collected): {
  ratio: number | undefined;
  reached: string | undefined;
  measured: string;
} {
  const y = c.yardstick;
  const variant = (id: string): readonly number[] =>
    y?.report.variants.find((v) => v.id === id)?.connectCpuUs ?? [];
  const headway = variant('headway');
  const raw = variant('raw-relay');
  const off = variant('headway-features-off');
  const ratio = medianRatio(spread(headway), spread(raw));
  if (y === undefined || ratio === undefined)
    return { ratio: undefined, reached: undefined, measured: '–' };
  // yardstick.md keeps only the medians: no per-run ratios to show then.
  const perRun = y.source === 'json' ? ratiosByRun(headway, raw) : undefined;
  const offRatio = medianRatio(spread(off), spread(raw));
  const runs = Number.isFinite(y.report.runs) ? `${y.report.runs} runs` : 'runs';
  return {
    ratio,
    reached: ratioText(ratio, perRun),
    measured:
      `Headway ${withRange(spread(headway))} µs, raw relay ${withRange(spread(raw))} µs` +
      (offRatio === undefined
        ? ''
        : `; with tracking, access log and health checks off ${times(offRatio)}`) +
      (y.source === 'json' ? ` (${runs})` : ` (medians of ${runs}, from yardstick.md)`),
  };
}

function rssRow(c: Collected): Row {
  const T = CONNECTION_COST_TARGETS;
  const held = c.rss.filter((r) => r.target === 'headway');
  const per = rssPerConnection(c.rss).get('headway');
  const idle = spread(held.map((r) => r.opened))?.median ?? Number(c.env.get('idle') ?? Number.NaN);
  const count = Number.isFinite(idle)
    ? `${int.format(idle)} held${idle < FULL_RUN_IDLE ? ` (a full run holds ${int.format(FULL_RUN_IDLE)})` : ''}`
    : 'the run’s idle count';
  const mib = (kb: number): string => (kb / 1024).toFixed(1);
  return {
    figure: `RSS per idle proxied connection, ${count}`,
    reached: per === undefined ? undefined : `${withRange(per, (n) => n.toFixed(2))} KiB`,
    target: `≤ ${T.rssPerIdleConnectionKib} KiB`,
    met: atMost(per?.median, T.rssPerIdleConnectionKib),
    measured:
      per === undefined
        ? '–'
        : `RSS ${withRange(spread(held.map((r) => r.beforeKb)), mib)} MiB before, ` +
          `${withRange(spread(held.map((r) => r.afterKb)), mib)} MiB with the connections`,
  };
}
