import { AggregatorRegistry, type Counter, type Gauge } from 'prom-client';
import { beforeEach, describe, expect, it } from 'vitest';
import { NO_BACKEND_LABEL, PromMetrics } from './prom-metrics.ts';

type Labels = Record<string, string>;

/** Every series of a metric as `{labels, value}`, for exact comparisons. */
async function series(metric: Counter | Gauge): Promise<{ labels: Labels; value: number }[]> {
  const { values } = await metric.get();
  return values.map((s) => ({ labels: s.labels as Labels, value: s.value }));
}

async function value(metric: Counter | Gauge, labels: Labels): Promise<number | undefined> {
  const all = await series(metric);
  return all.find((s) => JSON.stringify(s.labels) === JSON.stringify(labels))?.value;
}

describe('PromMetrics', () => {
  let prom: PromMetrics;

  beforeEach(() => {
    prom = new PromMetrics({ processMetrics: false });
  });

  it('registers only the proxy metrics when process metrics are off', async () => {
    const names = (await prom.registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names).toContain('headway_connections_total');
    expect(names).toContain('headway_backend_connect_seconds');
    expect(names.filter((n) => !n.startsWith('headway_'))).toEqual([]);
  });

  it('collects process metrics by default', async () => {
    const withProcess = new PromMetrics();
    const names = (await withProcess.registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names).toContain('process_cpu_seconds_total');
  });

  it('counts closed connections by listener, backend and outcome', async () => {
    const a = prom.listener('redis').backend('10.0.0.1:6379');
    a.connectionClosed('ok', 10, 20);
    a.connectionClosed('ok', 0, 0);
    a.connectionClosed('idle_timeout', 5, 0);
    prom.listener('pg').backend('10.0.0.1:6379').connectionClosed('ok', 0, 0);

    expect(await series(prom.connections)).toEqual(
      expect.arrayContaining([
        { labels: { listener: 'redis', backend: '10.0.0.1:6379', outcome: 'ok' }, value: 2 },
        {
          labels: { listener: 'redis', backend: '10.0.0.1:6379', outcome: 'idle_timeout' },
          value: 1,
        },
        { labels: { listener: 'pg', backend: '10.0.0.1:6379', outcome: 'ok' }, value: 1 },
      ]),
    );
    expect(await series(prom.connections)).toHaveLength(3);
  });

  it('counts bytes by direction, creating no series for zero bytes', async () => {
    const a = prom.listener('redis').backend('a');
    a.connectionClosed('ok', 0, 0);
    expect(await series(prom.bytes)).toEqual([]);
    a.connectionClosed('ok', 100, 7);
    a.connectionClosed('reset', 50, 0);
    expect(
      await value(prom.bytes, { listener: 'redis', backend: 'a', direction: 'client_to_backend' }),
    ).toBe(150);
    expect(
      await value(prom.bytes, { listener: 'redis', backend: 'a', direction: 'backend_to_client' }),
    ).toBe(7);
  });

  it('tracks active attempts up and down', async () => {
    const a = prom.listener('redis').backend('a');
    a.attemptStarted();
    a.attemptStarted();
    a.attemptEnded();
    expect(await series(prom.active)).toEqual([
      { labels: { listener: 'redis', backend: 'a' }, value: 1 },
    ]);
  });

  it('labels connections that reached no backend with an empty backend', async () => {
    prom.listener('redis').connectionClosedWithoutBackend('no_backend', 12);
    prom.listener('redis').connectionClosedWithoutBackend('no_backend', 0);
    expect(NO_BACKEND_LABEL).toBe('');
    expect(await series(prom.connections)).toEqual([
      { labels: { listener: 'redis', backend: '', outcome: 'no_backend' }, value: 2 },
    ]);
    expect(await series(prom.bytes)).toEqual([
      {
        labels: { listener: 'redis', backend: '', direction: 'client_to_backend' },
        value: 12,
      },
    ]);
  });

  it('hands out the same handle for the same listener and backend', () => {
    const l = prom.listener('redis');
    expect(prom.listener('redis')).toBe(l);
    expect(l.backend('a')).toBe(l.backend('a'));
    expect(l.backend('a')).not.toBe(l.backend('b'));
    expect(prom.listener('pg').backend('a')).not.toBe(l.backend('a'));
  });

  it('remove() drops every series of that backend and nothing else', async () => {
    const l = prom.listener('redis');
    const a = l.backend('a');
    const b = l.backend('b');
    for (const m of [a, b]) {
      m.attemptStarted();
      m.connectionClosed('ok', 3, 4);
      m.connectionClosed('connect_error', 0, 0);
    }
    prom.listener('pg').backend('a').connectionClosed('ok', 1, 1);

    a.remove();

    const backendsOf = async (metric: Counter | Gauge) =>
      (await series(metric)).map((s) => `${s.labels.listener ?? ''}/${s.labels.backend ?? ''}`);
    expect(await backendsOf(prom.connections)).not.toContain('redis/a');
    expect(await backendsOf(prom.active)).not.toContain('redis/a');
    expect(await backendsOf(prom.bytes)).not.toContain('redis/a');
    expect(await backendsOf(prom.connections)).toEqual(
      expect.arrayContaining(['redis/b', 'redis/b', 'pg/a']),
    );
    expect(await backendsOf(prom.bytes)).toEqual(expect.arrayContaining(['redis/b', 'pg/a']));
    expect(await backendsOf(prom.active)).toEqual(['redis/b']);
    expect(await prom.registry.metrics()).not.toMatch(/listener="redis",backend="a"/);
  });

  it('starts from zero when a removed backend comes back', async () => {
    const l = prom.listener('redis');
    const first = l.backend('a');
    first.connectionClosed('ok', 1, 1);
    first.remove();
    const again = l.backend('a');
    expect(again).not.toBe(first);
    again.connectionClosed('ok', 0, 0);
    expect(await value(prom.connections, { listener: 'redis', backend: 'a', outcome: 'ok' })).toBe(
      1,
    );
  });

  it('exposes latency histograms as Prometheus text: cumulative buckets, +Inf, sum, count', async () => {
    const b = prom.listener('redis').backend('10.0.0.1:6379');
    for (const v of [0.00004, 0.0003, 0.0003, 0.002, 100]) b.observeConnect(v);
    const text = await prom.registry.metrics();
    const line = (le: string): string | undefined =>
      text
        .split('\n')
        .find((l) =>
          l.startsWith(
            `headway_backend_connect_seconds_bucket{le="${le}",listener="redis",backend="10.0.0.1:6379"}`,
          ),
        );
    expect(line('0.00005')?.split(' ')[1]).toBe('1');
    expect(line('0.0005')?.split(' ')[1]).toBe('3');
    expect(line('0.0025')?.split(' ')[1]).toBe('4');
    expect(line('60')?.split(' ')[1]).toBe('4');
    expect(line('+Inf')?.split(' ')[1]).toBe('5');
    expect(text).toContain(
      'headway_backend_connect_seconds_count{listener="redis",backend="10.0.0.1:6379"} 5',
    );
    const sum = /headway_backend_connect_seconds_sum\{[^}]*\} (\S+)/.exec(text)?.[1];
    expect(Number(sum)).toBeCloseTo(100.00264, 6);
    // No observation, no series.
    expect(text).not.toContain('headway_session_seconds_count');
  });

  it('merges two registries (worker threads) by adding buckets, counters and gauges', async () => {
    const other = new PromMetrics({ processMetrics: false });
    prom.listener('redis').backend('a').observeSession(0.2);
    other.listener('redis').backend('a').observeSession(0.2);
    prom.listener('redis').backend('a').connectionClosed('ok', 1, 2);
    other.listener('redis').backend('a').connectionClosed('ok', 3, 4);
    const merged = AggregatorRegistry.aggregate([
      await prom.registry.getMetricsAsJSON(),
      await other.registry.getMetricsAsJSON(),
    ]);
    const text = await merged.metrics();
    expect(text).toContain('headway_session_seconds_count{listener="redis",backend="a"} 2');
    expect(text).toContain(
      'headway_connections_total{listener="redis",backend="a",outcome="ok"} 2',
    );
    expect(text).toContain(
      'headway_bytes_total{listener="redis",backend="a",direction="backend_to_client"} 6',
    );
  });

  it('keeps registries of separate instances apart', async () => {
    const other = new PromMetrics({ processMetrics: false });
    other.listener('redis').backend('a').connectionClosed('ok', 0, 0);
    expect(await series(prom.connections)).toEqual([]);
  });
});
