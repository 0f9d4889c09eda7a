import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backendIds, endpoint, snapshot } from '../../test/kit/backends.ts';
import { RecordingBalancer } from '../../test/kit/recording-balancer.ts';
import { RecordingMetrics } from '../../test/kit/recording-metrics.ts';
import type { PickContext } from '../balancing/balancer.ts';
import { RoundRobinBalancer } from '../balancing/round-robin.ts';
import type { Logger, LogFields } from '../core/logger.ts';
import { silentLogger } from '../core/logger.ts';
import { PromMetrics } from '../metrics/prom-metrics.ts';
import { Backend, type Closable } from './backend.ts';
import { ALL_FULL, BackendPool } from './backend-pool.ts';

class FakeSession implements Closable {
  readonly closeGracefully = vi.fn<(reason: 'drained') => void>();
}

const CTX: PickContext = { clientAddress: '10.1.1.1', clientPort: 5000, nowMs: 0, tried: [] };

describe('BackendPool', () => {
  let balancer: RecordingBalancer;
  let metrics: RecordingMetrics;
  let pool: BackendPool;

  function makePool(backendDrainTimeoutMs = 0, logger: Logger = silentLogger): BackendPool {
    return new BackendPool({
      listener: 'test',
      balancer,
      metrics,
      logger,
      backendDrainTimeoutMs,
    });
  }

  beforeEach(() => {
    balancer = new RecordingBalancer();
    metrics = new RecordingMetrics();
    pool = makePool();
  });

  describe('snapshots', () => {
    it('starts empty with no usable backend', () => {
      expect(pool.tier).toBe('none');
      expect(pool.hasUsableBackend).toBe(false);
      expect(pool.updatedAtMs).toBeUndefined();
      expect(pool.updates).toBe(0);
      expect(pool.pick(CTX)).toBeUndefined();
    });

    it('hands the ready endpoints to the balancer', () => {
      pool.applySnapshot(snapshot(endpoint('a:1'), endpoint('b:1')));
      expect(backendIds(balancer.candidates)).toEqual(['a:1', 'b:1']);
      expect(pool.tier).toBe('ready');
      expect(pool.hasUsableBackend).toBe(true);
      expect(pool.updates).toBe(1);
      expect(pool.updatedAtMs).toBe(1_700_000_000_000);
      expect(pool.pick(CTX)?.id).toBe('a:1');
    });

    it('keeps the Backend object (and its counters) for ids that remain', () => {
      pool.applySnapshot(snapshot(endpoint('a:1'), endpoint('b:1')));
      const a = pool.get('a:1');
      expect(a).toBeDefined();
      if (a === undefined) return;
      pool.attach(a, new FakeSession());
      a.failures = 3;

      pool.applySnapshot(snapshot(endpoint('a:1', { weight: 7 }), endpoint('c:1')));

      expect(pool.get('a:1')).toBe(a);
      expect(a.active).toBe(1);
      expect(a.total).toBe(1);
      expect(a.failures).toBe(3);
      expect(a.weight).toBe(7);
      expect(pool.get('b:1')).toBeUndefined();
      expect(backendIds(pool.backends())).toEqual(['a:1', 'c:1']);
      expect(balancer.candidates).toContain(a);
      expect(pool.updates).toBe(2);
    });

    it('follows an address change for the same id', () => {
      pool.applySnapshot(snapshot({ ...endpoint('pod-0'), address: '10.0.0.1', port: 6379 }));
      const b = pool.get('pod-0');
      pool.applySnapshot(snapshot({ ...endpoint('pod-0'), address: '10.0.0.9', port: 6379 }));
      expect(pool.get('pod-0')).toBe(b);
      expect(b?.endpoint.address).toBe('10.0.0.9');
    });

    it('keeps the first of duplicate ids and warns', () => {
      const warn = vi.fn<(msg: string, fields?: LogFields) => void>();
      pool = makePool(0, { ...silentLogger, warn });
      pool.applySnapshot(snapshot(endpoint('a:1', { weight: 2 }), endpoint('a:1', { weight: 9 })));
      expect(pool.get('a:1')?.weight).toBe(2);
      expect(backendIds(pool.backends())).toEqual(['a:1']);
      expect(warn).toHaveBeenCalledWith(
        'duplicate endpoint id in discovery snapshot; keeping the first',
        { listener: 'test', backend: 'a:1' },
      );
    });

    it('forgets a removed backend without connections at once and removes its metrics', () => {
      pool.applySnapshot(snapshot(endpoint('a:1'), endpoint('b:1')));
      pool.applySnapshot(snapshot(endpoint('a:1')));
      expect(pool.get('b:1')).toBeUndefined();
      expect(metrics.events).toEqual(['remove b:1']);
      expect(backendIds(balancer.candidates)).toEqual(['a:1']);
    });
  });

  describe('a removed backend with open connections', () => {
    it('stays as "removed" until its last connection ends, then disappears', () => {
      pool.applySnapshot(snapshot(endpoint('a:1'), endpoint('b:1')));
      const b = pool.get('b:1');
      if (b === undefined) throw new Error('missing b');
      const s1 = new FakeSession();
      const s2 = new FakeSession();
      pool.attach(b, s1);
      pool.attach(b, s2);

      pool.applySnapshot(snapshot(endpoint('a:1')));

      expect(pool.get('b:1')).toBe(b);
      expect(b.listed).toBe(false);
      expect(b.state).toBe('removed');
      expect(backendIds(pool.backends())).toEqual(['a:1', 'b:1']);
      expect(backendIds(balancer.candidates)).toEqual(['a:1']);
      expect(metrics.events).not.toContain('remove b:1');

      pool.detach(b, s1);
      expect(pool.get('b:1')).toBe(b);
      expect(b.active).toBe(1);

      pool.detach(b, s2);
      expect(pool.get('b:1')).toBeUndefined();
      expect(backendIds(pool.backends())).toEqual(['a:1']);
      expect(metrics.events.filter((e) => e.endsWith('b:1'))).toEqual([
        'start b:1',
        'start b:1',
        'end b:1',
        'end b:1',
        'remove b:1',
      ]);
      expect(balancer.closed).toEqual(['b:1', 'b:1']);
    });

    it('is kept (same object, same counters) when it is listed again before draining', () => {
      pool.applySnapshot(snapshot(endpoint('a:1'), endpoint('b:1')));
      const b = pool.get('b:1');
      if (b === undefined) throw new Error('missing b');
      const s = new FakeSession();
      pool.attach(b, s);
      pool.applySnapshot(snapshot(endpoint('a:1')));
      pool.applySnapshot(snapshot(endpoint('a:1'), endpoint('b:1')));
      expect(pool.get('b:1')).toBe(b);
      expect(b.state).toBe('ready');
      expect(backendIds(balancer.candidates)).toEqual(['a:1', 'b:1']);
      pool.detach(b, s);
      expect(pool.get('b:1')).toBe(b);
      expect(metrics.events).not.toContain('remove b:1');
    });

    it('removes its Prometheus series only after the last detach', async () => {
      const prom = new PromMetrics({ processMetrics: false });
      pool = new BackendPool({
        listener: 'redis',
        balancer,
        metrics: prom.listener('redis'),
        logger: silentLogger,
        backendDrainTimeoutMs: 0,
      });
      pool.applySnapshot(snapshot(endpoint('a:1'), endpoint('b:1')));
      const b = pool.get('b:1');
      if (b === undefined) throw new Error('missing b');
      const s = new FakeSession();
      pool.attach(b, s);
      b.metrics.connectionClosed('ok', 1, 1);
      pool.applySnapshot(snapshot(endpoint('a:1')));
      expect(await prom.registry.metrics()).toMatch(/backend="b:1"/);
      pool.detach(b, s);
      expect(await prom.registry.metrics()).not.toMatch(/backend="b:1"/);
    });
  });

  describe('attach and detach', () => {
    it('count active and total connections and ignore a second detach', () => {
      pool.applySnapshot(snapshot(endpoint('a:1')));
      const a = pool.get('a:1');
      if (a === undefined) throw new Error('missing a');
      const s = new FakeSession();
      pool.attach(a, s);
      expect(a.active).toBe(1);
      expect(a.total).toBe(1);
      expect(a.sessions.has(s)).toBe(true);
      pool.detach(a, s);
      pool.detach(a, s);
      expect(a.active).toBe(0);
      expect(a.total).toBe(1);
      expect(a.sessions.size).toBe(0);
      expect(balancer.closed).toEqual(['a:1']);
      expect(metrics.events).toEqual(['start a:1', 'end a:1']);
    });
  });

  describe('candidates', () => {
    it('uses draining endpoints only when no endpoint is ready', () => {
      pool.applySnapshot(
        snapshot(
          endpoint('a:1', { state: 'draining' }),
          endpoint('b:1'),
          endpoint('c:1', { state: 'draining' }),
        ),
      );
      expect(backendIds(balancer.candidates)).toEqual(['b:1']);
      expect(pool.tier).toBe('ready');

      pool.applySnapshot(
        snapshot(
          endpoint('a:1', { state: 'draining' }),
          endpoint('b:1', { state: 'not-serving' }),
          endpoint('c:1', { state: 'draining' }),
        ),
      );
      expect(backendIds(balancer.candidates)).toEqual(['a:1', 'c:1']);
      expect(pool.tier).toBe('draining-fallback');
      expect(pool.hasUsableBackend).toBe(true);

      pool.applySnapshot(
        snapshot(
          endpoint('a:1', { state: 'draining' }),
          endpoint('b:1'),
          endpoint('c:1', { state: 'draining' }),
        ),
      );
      expect(backendIds(balancer.candidates)).toEqual(['b:1']);
      expect(pool.tier).toBe('ready');
    });

    it('never offers not-serving endpoints, even when nothing else is left', () => {
      pool.applySnapshot(
        snapshot(
          endpoint('a:1', { state: 'not-serving' }),
          endpoint('b:1', { state: 'not-serving' }),
        ),
      );
      expect(balancer.candidates).toEqual([]);
      expect(pool.tier).toBe('none');
      expect(pool.hasUsableBackend).toBe(false);
      expect(backendIds(pool.backends())).toEqual(['a:1', 'b:1']);
      expect(pool.get('a:1')?.state).toBe('not-serving');
    });

    it('never offers weight-0 endpoints, in either tier', () => {
      pool.applySnapshot(snapshot(endpoint('a:1', { weight: 0 }), endpoint('b:1')));
      expect(backendIds(balancer.candidates)).toEqual(['b:1']);

      pool.applySnapshot(
        snapshot(endpoint('a:1', { weight: 0 }), endpoint('b:1', { weight: 0, state: 'draining' })),
      );
      expect(balancer.candidates).toEqual([]);
      expect(pool.tier).toBe('none');

      pool.applySnapshot(
        snapshot(endpoint('a:1', { weight: 0 }), endpoint('b:1', { weight: 3, state: 'draining' })),
      );
      expect(backendIds(balancer.candidates)).toEqual(['b:1']);
      expect(pool.tier).toBe('draining-fallback');
    });

    it('refresh() re-announces the candidates to the balancer', () => {
      pool.applySnapshot(snapshot(endpoint('a:1')));
      const before = balancer.updates;
      pool.refresh();
      expect(balancer.updates).toBe(before + 1);
      expect(backendIds(balancer.candidates)).toEqual(['a:1']);
    });

    it('drives a real balancer through snapshot changes', () => {
      const rr = new RoundRobinBalancer<Backend>();
      pool = new BackendPool({
        listener: 'test',
        balancer: rr,
        metrics,
        logger: silentLogger,
        backendDrainTimeoutMs: 0,
      });
      pool.applySnapshot(
        snapshot(endpoint('a:1'), endpoint('b:1', { state: 'not-serving' }), endpoint('c:1')),
      );
      const picks = Array.from({ length: 4 }, () => pool.pick(CTX)?.id);
      expect(picks).toEqual(['a:1', 'c:1', 'a:1', 'c:1']);
      expect(pool.balancer).toBe(rr);
    });
  });

  describe('--backend-drain-timeout', () => {
    beforeEach(() => {
      vi.useFakeTimers();
    });

    afterEach(() => {
      vi.useRealTimers();
    });

    it('closes the connections of a removed backend with "drained" at the deadline', () => {
      pool = makePool(5000);
      pool.applySnapshot(snapshot(endpoint('a:1'), endpoint('b:1')));
      const a = pool.get('a:1');
      const b = pool.get('b:1');
      if (a === undefined || b === undefined) throw new Error('missing backends');
      const onB = [new FakeSession(), new FakeSession()];
      const onA = new FakeSession();
      for (const s of onB) pool.attach(b, s);
      pool.attach(a, onA);

      pool.applySnapshot(snapshot(endpoint('a:1')));
      vi.advanceTimersByTime(4999);
      for (const s of onB) expect(s.closeGracefully).not.toHaveBeenCalled();

      vi.advanceTimersByTime(1);
      for (const s of onB) {
        expect(s.closeGracefully).toHaveBeenCalledTimes(1);
        expect(s.closeGracefully).toHaveBeenCalledWith('drained');
      }
      expect(onA.closeGracefully).not.toHaveBeenCalled();

      // The sessions detach as they close; then the backend is gone.
      for (const s of onB) pool.detach(b, s);
      expect(pool.get('b:1')).toBeUndefined();
      expect(metrics.events).toContain('remove b:1');
      expect(vi.getTimerCount()).toBe(0);
    });

    it('does not close anything when the backend is listed again before the deadline', () => {
      pool = makePool(5000);
      pool.applySnapshot(snapshot(endpoint('a:1')));
      const a = pool.get('a:1');
      if (a === undefined) throw new Error('missing a');
      const s = new FakeSession();
      pool.attach(a, s);
      pool.applySnapshot(snapshot());
      vi.advanceTimersByTime(2000);
      pool.applySnapshot(snapshot(endpoint('a:1')));
      vi.advanceTimersByTime(10_000);
      expect(s.closeGracefully).not.toHaveBeenCalled();
      expect(vi.getTimerCount()).toBe(0);
    });

    it('cancels the deadline when the last connection ends on its own', () => {
      pool = makePool(5000);
      pool.applySnapshot(snapshot(endpoint('a:1')));
      const a = pool.get('a:1');
      if (a === undefined) throw new Error('missing a');
      const s = new FakeSession();
      pool.attach(a, s);
      pool.applySnapshot(snapshot());
      expect(vi.getTimerCount()).toBe(1);
      pool.detach(a, s);
      expect(vi.getTimerCount()).toBe(0);
      vi.advanceTimersByTime(10_000);
      expect(s.closeGracefully).not.toHaveBeenCalled();
    });

    it('never cuts connections when the timeout is 0', () => {
      pool = makePool(0);
      pool.applySnapshot(snapshot(endpoint('a:1')));
      const a = pool.get('a:1');
      if (a === undefined) throw new Error('missing a');
      const s = new FakeSession();
      pool.attach(a, s);
      pool.applySnapshot(snapshot());
      expect(vi.getTimerCount()).toBe(0);
      vi.advanceTimersByTime(24 * 3_600_000);
      expect(s.closeGracefully).not.toHaveBeenCalled();
      expect(pool.get('a:1')?.state).toBe('removed');
    });

    it('dispose() stops pending deadlines', () => {
      pool = makePool(5000);
      pool.applySnapshot(snapshot(endpoint('a:1')));
      const a = pool.get('a:1');
      if (a === undefined) throw new Error('missing a');
      const s = new FakeSession();
      pool.attach(a, s);
      pool.applySnapshot(snapshot());
      pool.dispose();
      vi.advanceTimersByTime(10_000);
      expect(s.closeGracefully).not.toHaveBeenCalled();
    });
  });

  describe('named picks (--route-by sni)', () => {
    it('obey --max-connections-per-backend: a full named backend is ALL_FULL, an unknown name undefined', () => {
      const limited = new BackendPool({
        listener: 'test',
        balancer,
        metrics,
        logger: silentLogger,
        backendDrainTimeoutMs: 0,
        maxPerBackend: 1,
      });
      limited.applySnapshot(snapshot(endpoint('a:1'), endpoint('b:1')));
      const a = limited.get('a:1') as Backend;
      expect(limited.pickWithRoom(CTX, 'a:1')).toBe(a);
      limited.attach(a, new FakeSession());
      expect(limited.pickWithRoom(CTX, 'a:1')).toBe(ALL_FULL);
      // Another backend still has room: the named client waits for its own.
      expect(limited.hasRoom()).toBe(true);
      expect(limited.pickWithRoom(CTX, 'nope')).toBeUndefined();
      // A named backend already tried (failed) is not picked again.
      const b = limited.get('b:1') as Backend;
      expect(limited.pickWithRoom({ ...CTX, tried: [b] }, 'b:1')).toBeUndefined();
    });
  });

  describe('session accounting (the pool writes the backend counters)', () => {
    function tracked(): { pool: BackendPool; a: Backend } {
      const p = new BackendPool({
        listener: 'test',
        balancer,
        metrics,
        logger: silentLogger,
        backendDrainTimeoutMs: 0,
        trackLatency: true,
        clock: { nowMs: () => 1000, wallMs: () => 1000 },
      });
      p.applySnapshot(snapshot(endpoint('a:1')));
      return { pool: p, a: p.get('a:1') as Backend };
    }

    it('a connected session: latency to histograms and balancer, bytes and outcome on close', () => {
      const { pool: p, a } = tracked();
      const s = new FakeSession();
      p.attach(a, s);
      p.connected(a, 4, 1000);
      p.firstByte(a, 2, 1000);
      p.sessionEnded(a, s, {
        outcome: 'ok',
        bytesFromClient: 10,
        bytesFromBackend: 20,
        durationMs: 500,
        nowMs: 1000,
      });
      expect(balancer.observed).toEqual(['connect a:1 4', 'first byte a:1 2']);
      expect(metrics.events).toEqual([
        'start a:1',
        'connect a:1 0.004',
        'first byte a:1 0.002',
        'session a:1 0.5',
        // Counted before the detach (which may remove a departed backend's series).
        'closed a:1 ok 10/20',
        'end a:1',
      ]);
      expect(a.latency?.connect.report(1000).sinceStart.count).toBe(1);
      expect(a.latency?.session.report(1000).sinceStart.count).toBe(1);
      expect([a.bytesFromClient, a.bytesFromBackend, a.open, a.total, a.failures]).toEqual([
        10, 20, 0, 1, 0,
      ]);
    });

    it('a session that never connected records no session latency', () => {
      const { pool: p, a } = tracked();
      const s = new FakeSession();
      p.attach(a, s);
      p.sessionEnded(a, s, {
        outcome: 'drained',
        bytesFromClient: 3,
        bytesFromBackend: 0,
        durationMs: undefined,
        nowMs: 1000,
      });
      expect(metrics.events).toEqual(['start a:1', 'closed a:1 drained 3/0', 'end a:1']);
    });

    it.each([
      { blamed: true, failures: 1 },
      { blamed: false, failures: 0 },
    ])(
      'a failed attempt detaches; blamed: $blamed → failures $failures',
      ({ blamed, failures }) => {
        const { pool: p, a } = tracked();
        const s = new FakeSession();
        p.attach(a, s);
        p.attemptFailed(a, s, blamed);
        expect([a.failures, a.open, a.sessions.size]).toEqual([failures, 0, 0]);
        expect(metrics.events).toEqual(['start a:1', 'end a:1']);
      },
    );
  });
});
