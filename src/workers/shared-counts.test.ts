import { describe, expect, it } from 'vitest';
import { BackendPool } from '../backends/backend-pool.ts';
import type { Backend, Closable } from '../backends/backend.ts';
import { LeastConnBalancer } from '../balancing/least-conn.ts';
import type { Endpoint } from '../core/endpoint.ts';
import { silentLogger } from '../core/logger.ts';
import { noopListener } from '../metrics/proxy-metrics.ts';
import { CELLS_PER_LISTENER, SharedCounts } from './shared-counts.ts';

const endpoints: Endpoint[] = ['10.0.0.1:6379', '10.0.0.2:6379'].map((id) => ({
  id,
  address: id.split(':')[0] as string,
  port: 6379,
  weight: 1,
  state: 'ready',
}));

/** One thread's pool: the main thread assigns cells, a worker only looks them up. */
function pool(cell: (id: string) => ReturnType<SharedCounts['assign']>): BackendPool {
  const p = new BackendPool({
    listener: 'redis',
    balancer: new LeastConnBalancer(),
    metrics: noopListener,
    logger: silentLogger,
    backendDrainTimeoutMs: 0,
    sharedCount: cell,
  });
  p.applySnapshot({ endpoints, updatedAtMs: 0 });
  return p;
}

const session = (): Closable => ({ closeGracefully: () => undefined });
const ctx = { clientAddress: '10.1.0.1', clientPort: 40000, nowMs: 0, tried: [] };

function pickAndAttach(p: BackendPool): Backend {
  const b = p.pickWithRoom(ctx);
  if (b === undefined || typeof b === 'symbol') throw new Error('no pick');
  p.attach(b, session());
  return b;
}

describe('SharedCounts between worker threads', () => {
  it('least-connections in one worker avoids a backend another worker loaded', () => {
    const main = new SharedCounts();
    for (const ep of endpoints) main.assign(ep.id);
    // A worker maps the same buffer and learns the cells.
    const workerCounts = new SharedCounts(main.buffer);
    workerCounts.learn(main.entries());
    const workerA = pool((id) => workerCounts.lookup(id));
    const workerB = pool((id) => workerCounts.lookup(id));

    // Worker A opens three connections, all to whatever it picks first while B is idle…
    const first = pickAndAttach(workerA);
    const firstBackend = [...workerA.backends()].find((b) => b.id === first.id) as Backend;
    workerA.attach(firstBackend, session());
    workerA.attach(firstBackend, session());
    // …so worker B, which has opened nothing itself, sends its next ones to the other backend.
    const other = endpoints.find((e) => e.id !== first.id)?.id;
    expect(pickAndAttach(workerB).id).toBe(other);
    expect(pickAndAttach(workerB).id).toBe(other);
    expect(pickAndAttach(workerB).id).toBe(other);
    // Both threads, and the main thread's view of the buffer, see the totals.
    expect(main.lookup(first.id)?.counts[main.lookup(first.id)?.index ?? -1]).toBe(3);
    expect([...workerA.backends()].map((b) => b.active).sort()).toEqual([3, 3]);
    expect([...workerB.backends()].map((b) => b.open).sort()).toEqual([0, 3]);
  });

  it('detaching gives the count back everywhere', () => {
    const counts = new SharedCounts();
    const p = pool((id) => counts.assign(id));
    const b = p.pickWithRoom(ctx) as Backend;
    const s = session();
    p.attach(b, s);
    expect(Atomics.load(counts.counts, counts.lookup(b.id)?.index ?? -1)).toBe(1);
    p.detach(b, s);
    expect(Atomics.load(counts.counts, counts.lookup(b.id)?.index ?? -1)).toBe(0);
  });

  it('keeps an id’s cell for good and falls back to per-thread counts once full', () => {
    // Two cells: a connection count and a failure streak of 4 bytes each.
    const counts = new SharedCounts(new SharedArrayBuffer(2 * 8));
    expect(counts.assign('a')?.index).toBe(0);
    expect(counts.assign('b')?.index).toBe(1);
    expect(counts.assign('a')?.index).toBe(0);
    expect(counts.assign('c')).toBeNull();
    expect(counts.full).toBe(true);
    expect(new SharedCounts().counts.length).toBe(CELLS_PER_LISTENER);
  });

  it('tells a success that ends a failure streak (in any thread) from one that ends none', () => {
    const main = new SharedCounts();
    const cell = main.assign('a')?.index ?? -1;
    const worker = new SharedCounts(main.buffer);
    expect(worker.succeeded(cell)).toBe(false);
    worker.failed(cell);
    main.failed(cell);
    expect(worker.succeeded(cell)).toBe(true);
    expect(main.succeeded(cell)).toBe(false);
    worker.failed(cell);
    main.resetStreak('a');
    expect(worker.succeeded(cell)).toBe(false);
  });
});
