/** The report's section on latency tracking's cost: Headway with tracking on against off, run by run. */
import { num, ratioRange, signedPct, times, withRange } from '../format.ts';
import {
  PROXY_BOUND_BUSY_PCT,
  TRACKING_TOLERANCE,
  type Measurement,
  type Target,
  type TestSpec,
} from '../model.ts';
import {
  cpuPerOp,
  medianRatio,
  pairedRatios,
  proxyBound,
  type Cell,
  type Spread,
} from '../statistics.ts';

export function trackingSection(
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
          `${ratioRange(pairs)} | ${verdict} |`,
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
      js.map((j) => `${times(j.ratio)} (${j.title}; per run ${ratioRange(j.pairs)})`).join(', ');
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
