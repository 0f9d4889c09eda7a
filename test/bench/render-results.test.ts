import { describe, expect, it } from 'vitest';
import type { Measurement } from '../../bench/render/model.ts';
import {
  parseIperf,
  parseKeyValues,
  parseMeasurement,
  parseRedisBenchmark,
  parseWrk,
} from '../../bench/render/parsers.ts';
import { render } from '../../bench/render/report.ts';
import { spread, summarise, throughputRatio } from '../../bench/render/statistics.ts';

const REDIS_CSV = [
  '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"',
  '"GET","6000.00","0.152","0.080","0.143","0.191","0.319","3.887"',
].join('\n');

function m(
  target: Measurement['target'],
  run: number,
  throughput: number,
  cpuSec?: number,
): Measurement {
  return {
    test: 'rr-redis-c1',
    target,
    run,
    ok: true,
    throughput,
    p50Us: 100,
    p99Us: 300,
    ops: throughput * 2,
    activeSec: 2,
    errors: 0,
    cmd: 'x',
    ...(cpuSec === undefined ? {} : { cpuSec }),
  };
}

describe('bench/render-results', () => {
  it('reads redis-benchmark CSV, iperf3 JSON and the wrk report line', () => {
    const r = parseRedisBenchmark(REDIS_CSV, 'redis-benchmark -p 1 -n 12000 --csv');
    expect(r).toMatchObject({ throughput: 6000, p50Us: 143, p99Us: 319, ops: 12000, activeSec: 2 });
    const i = parseIperf(JSON.stringify({ end: { sum_received: { bytes: 2.5e9, seconds: 2 } } }));
    expect(i).toMatchObject({ throughput: 10, ops: 2500, activeSec: 2 });
    expect(() => parseIperf(JSON.stringify({ error: 'unable to connect' }))).toThrow(/unable/);
    const w = parseWrk(
      'Running 2s test\n{"wrk":1,"requests":10000,"duration_us":2000000,"bytes":1,"errors":{"connect":1,"read":2,"write":0,"status":0,"timeout":0},"p50_us":900,"p99_us":1600,"max_us":2000}\n',
    );
    expect(w).toMatchObject({ throughput: 5000, p50Us: 900, errors: 3, ops: 10000 });
  });

  it('turns a failed run into a failed measurement rather than a number', () => {
    const meta = parseKeyValues(
      'test=rr-redis-c1\ntarget=nginx\nrun=2\ntool=redis-benchmark\nticks=5\nrc=124\ncmd=x',
    );
    const got = parseMeasurement(meta, '', '', 100);
    expect(got).toMatchObject({ ok: false, problem: 'exit code 124', target: 'nginx', run: 2 });
  });

  it('takes medians with min and max', () => {
    expect(spread([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3, n: 3 });
    expect(spread([4, 1])).toEqual({ median: 2.5, min: 1, max: 4, n: 2 });
    expect(spread([])).toBeUndefined();
  });

  it('claims a throughput ratio only when the proxies were busy', () => {
    // cpuSec / activeSec: 1.9 / 2 = 95 % busy; 1 / 2 = 50 %.
    const busy = summarise([
      m('headway', 1, 1000, 1.9),
      m('headway', 2, 1100, 1.9),
      m('headway', 3, 900, 1.9),
    ]);
    const idle = summarise([
      m('haproxy', 1, 2000, 1),
      m('haproxy', 2, 2000, 1),
      m('haproxy', 3, 2000, 1),
    ]);
    const direct = summarise([m('direct', 1, 4000)]);
    expect(busy.busyPct?.median).toBeCloseTo(95);
    expect(busy.cpuPerOpUs?.median).toBeCloseTo(950);
    expect(throughputRatio(busy, idle, false)).toEqual({ bound: false, value: 0.5 });
    expect(throughputRatio(busy, direct, true)).toEqual({ bound: true, value: 0.25 });
    expect(throughputRatio(idle, busy, false).bound).toBe(false);
  });

  it('renders the ratio table with load-bound rows', () => {
    const measurements = [
      m('direct', 1, 4000),
      m('headway', 1, 1000, 1.9),
      m('haproxy', 1, 2000, 1),
      m('nginx', 1, 1000, 1.9),
    ];
    const text = render({ env: parseKeyValues('runs=1\nidle=8000'), measurements, rss: [] });
    expect(text).toContain(
      '| redis-benchmark GET, 1 connection | throughput | load-bound (seen 0.50×; CPU/op 3.80×) | **1.00×** | **0.25×** |',
    );
    expect(text).toMatch(/\| Headway \| 1,000 \| 100 \| 300 \| 950 \| 95 \| – \| 0 \|/);
  });
});
