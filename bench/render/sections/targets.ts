/** The report's section on the performance targets Headway set itself: met or not. */
import { num, times } from '../format.ts';
import { TESTS, type Target } from '../model.ts';
import { medianRatio, throughputRatio, type Cell, type Spread } from '../statistics.ts';

/**
 * Issue #11's targets, each with what this run reached. A throughput target
 * can only be judged where the proxies, not the load side, set the pace; then
 * the CPU-per-operation ratio stands in for it and the row says so.
 */
export function targetsSection(
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
