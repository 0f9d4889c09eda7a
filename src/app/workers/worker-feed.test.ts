import { describe, expect, it } from 'vitest';
import { Backend } from '../../backends/backend.ts';
import type { EndpointSnapshot } from '../../core/endpoint.ts';
import { noopBackend } from '../../metrics/proxy-metrics.ts';
import { SharedCounts } from './shared-counts.ts';
import { MainThreadFeed } from './worker-feed.ts';

function snapshot(...ids: string[]): EndpointSnapshot {
  return {
    endpoints: ids.map((id) => ({ id, address: '127.0.0.1', port: 1, weight: 1, state: 'ready' })),
    updatedAtMs: 1,
  };
}

function sinkOf(seen: string[][]): Parameters<ReturnType<MainThreadFeed['sourceFor']>['start']>[0] {
  return {
    onSnapshot: (s) => seen.push(s.endpoints.map((e) => e.id)),
    onError: () => undefined,
  };
}

describe('MainThreadFeed', () => {
  it('feeds every running source of a listener, a late one with the last snapshot', () => {
    const main = new SharedCounts();
    main.assign('a');
    const feed = new MainThreadFeed({}, () => undefined);
    const early: string[][] = [];
    const first = feed.sourceFor('db', 'dns://db:5432');
    expect(first.kind).toBe('dns');
    first.start(sinkOf(early));
    feed.deliver('db', snapshot('a'), main.buffer, main.entries());
    const late: string[][] = [];
    feed.sourceFor('db', 'dns://db:5432').start(sinkOf(late));
    first.stop();
    feed.deliver('db', snapshot('a', 'b'), main.buffer, []);
    expect(early).toEqual([['a']]);
    expect(late).toEqual([['a'], ['a', 'b']]);
    expect(feed.sharedCount('db', 'a')?.index).toBe(0);
    expect(feed.sharedCount('db', 'b')).toBeNull();
  });

  it('reports every connect failure, and a success only when it ends a streak', () => {
    const main = new SharedCounts();
    const cell = main.assign('a');
    const reports: string[] = [];
    const feed = new MainThreadFeed(
      {
        db: {
          counts: main.buffer,
          cells: main.entries(),
          snapshot: null,
          unhealthy: [],
          drained: [],
        },
      },
      (listener, id, ok) => reports.push(`${listener} ${id} ${ok ? 'ok' : 'failed'}`),
    );
    const b = new Backend(
      { id: 'a', address: '127.0.0.1', port: 1, weight: 1, state: 'ready' },
      noopBackend,
      null,
    );
    b.shared = cell;
    const outcomes = feed.connectOutcomes('db');
    outcomes.succeeded(b);
    outcomes.failed(b);
    outcomes.failed(b);
    outcomes.succeeded(b);
    outcomes.succeeded(b);
    expect(reports).toEqual(['db a failed', 'db a failed', 'db a ok']);
    // Without a shared cell the streak cannot be seen: every success is reported.
    b.shared = null;
    outcomes.succeeded(b);
    expect(reports.at(-1)).toBe('db a ok');
    expect(reports).toHaveLength(4);
  });
});
