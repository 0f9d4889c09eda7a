import { describe, expect, it } from 'vitest';
import type { SharedCount } from '../backends/backend.ts';
import { resolveProxyConfig } from '../config/resolve.ts';
import type { ListenerSettings } from '../config/schema.ts';
import type { Clock } from '../core/clock.ts';
import type { EndpointSnapshot } from '../core/endpoint.ts';
import { silentLogger } from '../core/logger.ts';
import { PushSource } from '../discovery/push-source.ts';
import { noopMetrics } from '../metrics/proxy-metrics.ts';
import { ListenerUpstream } from './listener-upstream.ts';
import type { UpstreamDeps } from './upstream.ts';

function settings(argv: Record<string, unknown> = {}): ListenerSettings {
  const config = resolveProxyConfig({
    argv: { backends: 'static://127.0.0.1:7001,127.0.0.1:7002', ...argv },
    env: {},
  });
  const l = config.listeners[0];
  if (l === undefined) throw new Error('no listener');
  return l;
}

const clock: Clock = { nowMs: () => 1000, wallMs: () => 1_000_000 };

function deps(extra: Partial<UpstreamDeps> = {}): UpstreamDeps {
  return {
    clock,
    logger: silentLogger,
    metrics: noopMetrics,
    random: () => 0.5,
    env: {},
    onFatal: (err) => {
      throw err;
    },
    ...extra,
  };
}

function ids(upstream: ListenerUpstream): string[] {
  return [...upstream.pool.backends()].filter((b) => b.listed).map((b) => b.id);
}

describe('ListenerUpstream', () => {
  it('builds discovery from the backends URI and fills its pool at start', async () => {
    const upstream = new ListenerUpstream(settings(), deps(), silentLogger);
    await upstream.init();
    expect(upstream.source.kind).toBe('static');
    expect(ids(upstream)).toEqual([]);
    upstream.start();
    expect(ids(upstream)).toEqual(['127.0.0.1:7001', '127.0.0.1:7002']);
    upstream.stop();
    upstream.dispose();
  });

  it('takes a given source instead (a pod slice) and stops listening to it at stop', () => {
    const source = new PushSource('static', 'static://pod#0');
    const upstream = new ListenerUpstream(settings(), deps(), silentLogger, source);
    upstream.start();
    source.push({
      endpoints: [{ id: 'p0', address: '127.0.0.1', port: 1, weight: 1, state: 'ready' }],
      updatedAtMs: 5,
    });
    expect(ids(upstream)).toEqual(['p0']);
    upstream.stop();
    source.push({ endpoints: [], updatedAtMs: 6 });
    expect(ids(upstream)).toEqual(['p0']);
  });

  it('marks a backend down on a failed check and closes its connections with --close-on-down', () => {
    const upstream = new ListenerUpstream(
      settings({ 'health-check': 'tcp', 'close-on-down': 'on' }),
      deps(),
      silentLogger,
    );
    upstream.start();
    upstream.applyHealth('127.0.0.1:7001', false);
    expect(upstream.pool.get('127.0.0.1:7001')?.healthy).toBe(false);
    upstream.applyHealth('127.0.0.1:7001', true);
    expect(upstream.pool.get('127.0.0.1:7001')?.healthy).toBe(true);
  });

  it('in the main thread of --workers: passes snapshots on, runs the checks, assigns shared cells', () => {
    const seen: EndpointSnapshot[] = [];
    const cells: string[] = [];
    const counts = new Int32Array(4);
    const observer = {
      sharedCount: (_listener: string, id: string): SharedCount => {
        cells.push(id);
        return { counts, index: cells.length - 1 };
      },
      snapshot: (_listener: string, s: EndpointSnapshot) => seen.push(s),
      health: () => undefined,
      ejected: () => undefined,
    };
    const upstream = new ListenerUpstream(
      settings({ 'health-check': 'tcp' }),
      deps({ observer }),
      silentLogger,
    );
    upstream.start();
    expect(seen).toHaveLength(1);
    expect(cells).toEqual(['127.0.0.1:7001', '127.0.0.1:7002']);
    expect(upstream.checker).not.toBeNull();
    upstream.stop();
    upstream.dispose();
  });

  it('in a worker thread: discovery comes from the feed and no checks run here', () => {
    const fed = new PushSource('static', 'static://x');
    const asked: string[] = [];
    const feed = {
      sourceFor: (listener: string) => {
        asked.push(listener);
        return fed;
      },
      sharedCount: () => null,
      connectOutcomes: () => ({ failed: () => undefined, succeeded: () => undefined }),
    };
    const upstream = new ListenerUpstream(
      settings({ 'health-check': 'tcp', name: 'db' }),
      deps({ feed }),
      silentLogger,
    );
    expect(asked).toEqual(['db']);
    expect(upstream.source).toBe(fed);
    expect(upstream.checker).toBeNull();
  });
});
