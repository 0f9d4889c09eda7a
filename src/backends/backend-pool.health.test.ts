import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backendIds, endpoint, snapshot } from '../../test/kit/backends.ts';
import { RecordingBalancer } from '../../test/kit/recording-balancer.ts';
import { RecordingMetrics } from '../../test/kit/recording-metrics.ts';
import type { Balancer, PickContext } from '../balancing/balancer.ts';
import { RoundRobinBalancer } from '../balancing/round-robin.ts';
import type { LogFields, Logger } from '../core/logger.ts';
import { silentLogger } from '../core/logger.ts';
import { OutlierDetector } from '../health/outlier-detector.ts';
import type { Backend } from './backend.ts';
import { BackendPool, type BackendPoolOptions } from './backend-pool.ts';
import type { Clock } from '../core/clock.ts';

/** Monotonic start of the fake clock (not 0: 0 means "not ejected" in Backend). */
const T0 = 1_000_000;
const SLOW_START_MS = 10_000;

const CTX: PickContext = { clientAddress: '10.1.1.1', clientPort: 5000, nowMs: 0, tried: [] };

describe('BackendPool health: slow start, passive ejection, panic mode', () => {
  let balancer: RecordingBalancer;
  let metrics: RecordingMetrics;
  let pool: BackendPool;
  let onPanic: ReturnType<typeof vi.fn<() => void>>;

  interface PoolSetup {
    readonly slowStartMs?: number;
    /** Passive ejection: consecutive failures (absent: no outlier detector). */
    readonly ejectAfter?: number;
    readonly maxEjectionPercent?: number;
    readonly balancer?: Balancer<Backend>;
    readonly logger?: Logger;
  }

  // Date.now, which vi.useFakeTimers() moves (performance.now it leaves alone).
  const clock: Clock = { nowMs: () => Date.now(), wallMs: () => Date.now() };

  function makePool(setup: PoolSetup = {}): BackendPool {
    const opts: BackendPoolOptions = {
      listener: 'test',
      balancer: setup.balancer ?? balancer,
      metrics,
      logger: setup.logger ?? silentLogger,
      backendDrainTimeoutMs: 0,
      clock,
      slowStartMs: setup.slowStartMs ?? 0,
      onPanic,
      outlier:
        setup.ejectAfter === undefined
          ? undefined
          : new OutlierDetector({
              ejectAfter: setup.ejectAfter,
              maxEjectionPercent: setup.maxEjectionPercent ?? 50,
              // As route.ts does: the percentage is of the listed backends.
              totalBackends: () => [...created.backends()].filter((b) => b.listed).length,
              clock,
            }),
    };
    const created = new BackendPool(opts);
    return created;
  }

  function backend(id: string): Backend {
    const b = pool.get(id);
    if (b === undefined) throw new Error(`no backend ${id}`);
    return b;
  }

  /** Fail `n` connects to `id` at the current time. */
  function fail(id: string, n: number): void {
    for (let i = 0; i < n; i++) pool.connectFailed(backend(id));
  }

  beforeEach(() => {
    vi.useFakeTimers({ now: T0, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    balancer = new RecordingBalancer();
    metrics = new RecordingMetrics();
    onPanic = vi.fn<() => void>();
    pool = makePool();
  });

  afterEach(() => {
    pool.dispose();
    vi.useRealTimers();
  });

  describe('slow start', () => {
    /** `a` at full weight, then `b` (weight 4) joins: the state every ramp test starts from. */
    function joinB(setup: PoolSetup = {}): void {
      pool = makePool({ slowStartMs: SLOW_START_MS, ...setup });
      pool.applySnapshot(snapshot(endpoint('a:1', { weight: 4 })));
      vi.advanceTimersByTime(SLOW_START_MS);
      expect(backend('a:1').rampFactor).toBe(1);
      pool.applySnapshot(snapshot(endpoint('a:1', { weight: 4 }), endpoint('b:1', { weight: 4 })));
    }

    it('a new backend starts at 10 % of its weight and rises linearly to full over slowStartMs', () => {
      joinB();
      const b = backend('b:1');
      expect(b.rampFactor).toBe(0.1);
      expect(b.weight).toBeCloseTo(0.4, 10);
      expect(backend('a:1').weight).toBe(4);
      expect(balancer.history.at(-1)?.get('b:1')).toBeCloseTo(0.4, 10);

      // The floor holds until elapsed/slowStart passes 10 %.
      vi.advanceTimersByTime(500);
      pool.refresh();
      expect(b.rampFactor).toBe(0.1);

      // Linear in between (refreshed by hand off the one-second grid).
      vi.advanceTimersByTime(2000);
      pool.refresh();
      expect(b.rampFactor).toBeCloseTo(0.25, 10);
      vi.advanceTimersByTime(5000);
      pool.refresh();
      expect(b.rampFactor).toBeCloseTo(0.75, 10);
      expect(b.weight).toBeCloseTo(3, 10);

      vi.advanceTimersByTime(2500);
      expect(b.rampFactor).toBe(1);
      expect(b.weight).toBe(4);
      expect(balancer.history.at(-1)?.get('b:1')).toBe(4);
      // Done ramping: no timer is left behind.
      expect(vi.getTimerCount()).toBe(0);
    });

    it('re-applies the ramping weights to the balancer about once a second, and stops at full weight', () => {
      joinB();
      const start = balancer.updates;
      const seen: number[] = [];
      for (let s = 1; s <= 10; s++) {
        vi.advanceTimersByTime(1000);
        expect(balancer.updates - start).toBe(s);
        seen.push(balancer.history.at(-1)?.get('b:1') ?? Number.NaN);
        // `a` is not ramping: it keeps its full weight in every update.
        expect(balancer.history.at(-1)?.get('a:1')).toBe(4);
      }
      // Weight 4 × max(0.1, t/10 s), one step a second.
      expect(seen.map((w) => Math.round(w * 100) / 100)).toEqual([
        0.4, 0.8, 1.2, 1.6, 2, 2.4, 2.8, 3.2, 3.6, 4,
      ]);
      vi.advanceTimersByTime(60_000);
      expect(balancer.updates - start).toBe(10);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('a ramp that is not a whole number of seconds still ends at full weight', () => {
      joinB({ slowStartMs: 3500 });
      const start = balancer.updates;
      vi.advanceTimersByTime(3000);
      expect(balancer.updates - start).toBe(3);
      expect(backend('b:1').rampFactor).toBeCloseTo(3000 / 3500, 10);
      vi.advanceTimersByTime(1000);
      expect(balancer.updates - start).toBe(4);
      expect(backend('b:1').rampFactor).toBe(1);
      vi.advanceTimersByTime(10_000);
      expect(balancer.updates - start).toBe(4);
    });

    it('a backend back from failed health checks (setHealthy false → true) ramps again', () => {
      joinB();
      vi.advanceTimersByTime(SLOW_START_MS);
      expect(backend('b:1').rampFactor).toBe(1);

      pool.setHealthy('b:1', false);
      expect(backendIds(balancer.candidates)).toEqual(['a:1']);
      vi.advanceTimersByTime(30_000);
      expect(vi.getTimerCount()).toBe(0);

      pool.setHealthy('b:1', true);
      expect(backendIds(balancer.candidates)).toEqual(['a:1', 'b:1']);
      expect(backend('b:1').rampFactor).toBe(0.1);
      expect(backend('a:1').rampFactor).toBe(1);
      vi.advanceTimersByTime(5000);
      expect(backend('b:1').rampFactor).toBeCloseTo(0.5, 10);
      vi.advanceTimersByTime(5000);
      expect(backend('b:1').rampFactor).toBe(1);
      expect(metrics.health).toEqual(['b:1 down', 'b:1 up']);
      // A repeated verdict is no change: no new ramp.
      pool.setHealthy('b:1', true);
      expect(backend('b:1').rampFactor).toBe(1);
    });

    it('a backend whose ejection ends ramps again, by the pool’s own timer', () => {
      joinB({ ejectAfter: 2 });
      vi.advanceTimersByTime(SLOW_START_MS);
      fail('b:1', 2);
      expect(backendIds(balancer.candidates)).toEqual(['a:1']);

      vi.advanceTimersByTime(10_001);
      expect(backendIds(balancer.candidates)).toEqual(['a:1', 'b:1']);
      expect(backend('b:1').ejectedUntilMs).toBe(0);
      expect(backend('b:1').rampFactor).toBe(0.1);
      vi.advanceTimersByTime(SLOW_START_MS);
      expect(backend('b:1').rampFactor).toBe(1);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('with slowStartMs 0 nothing ramps and no timer runs', () => {
      pool = makePool({ slowStartMs: 0 });
      pool.applySnapshot(snapshot(endpoint('a:1', { weight: 4 })));
      vi.advanceTimersByTime(5000);
      pool.applySnapshot(snapshot(endpoint('a:1', { weight: 4 }), endpoint('b:1', { weight: 4 })));
      expect(backend('b:1').rampFactor).toBe(1);
      expect(backend('b:1').weight).toBe(4);
      expect(vi.getTimerCount()).toBe(0);

      pool.setHealthy('b:1', false);
      pool.setHealthy('b:1', true);
      expect(backend('b:1').rampFactor).toBe(1);
      const updates = balancer.updates;
      vi.advanceTimersByTime(60_000);
      expect(balancer.updates).toBe(updates);
    });

    it('with a weighted round-robin balancer, a joining backend gets its ramped share of picks', () => {
      const rr = new RoundRobinBalancer<Backend>();
      pool = makePool({ slowStartMs: SLOW_START_MS, balancer: rr });
      pool.applySnapshot(snapshot(endpoint('a:1')));
      vi.advanceTimersByTime(SLOW_START_MS);
      pool.applySnapshot(snapshot(endpoint('a:1'), endpoint('b:1')));
      const shareOfB = (picks: number): number => {
        let b = 0;
        for (let i = 0; i < picks; i++) if (pool.pick(CTX)?.id === 'b:1') b++;
        return b;
      };
      // Weights 1 : 0.1 → b gets 1/11 of the picks.
      const tenth = shareOfB(1100);
      expect(tenth).toBeGreaterThanOrEqual(99);
      expect(tenth).toBeLessThanOrEqual(101);
      vi.advanceTimersByTime(5000);
      // 1 : 0.5 → one third.
      const third = shareOfB(900);
      expect(third).toBeGreaterThanOrEqual(298);
      expect(third).toBeLessThanOrEqual(302);
      vi.advanceTimersByTime(5000);
      const half = shareOfB(1000);
      expect(half).toBeGreaterThanOrEqual(498);
      expect(half).toBeLessThanOrEqual(502);
    });
  });

  describe('passive ejection', () => {
    it('after ejectAfter consecutive connect failures the backend leaves the candidates for 10 s', () => {
      pool = makePool({ ejectAfter: 3 });
      pool.applySnapshot(snapshot(endpoint('a:1'), endpoint('b:1')));
      fail('b:1', 2);
      expect(backendIds(balancer.candidates)).toEqual(['a:1', 'b:1']);
      expect(metrics.ejections).toEqual([]);

      fail('b:1', 1);
      expect(backendIds(balancer.candidates)).toEqual(['a:1']);
      expect(backend('b:1').ejectedUntilMs).toBe(T0 + 10_000);
      expect(metrics.ejections).toEqual(['b:1']);
      expect(pool.tier).toBe('ready');

      vi.advanceTimersByTime(9_999);
      expect(backendIds(balancer.candidates)).toEqual(['a:1']);
      // Nobody calls the pool: its own timer brings b back when the ejection ends.
      const updates = balancer.updates;
      vi.advanceTimersByTime(2);
      expect(backendIds(balancer.candidates)).toEqual(['a:1', 'b:1']);
      expect(balancer.updates).toBe(updates + 1);
      expect(backend('b:1').ejectedUntilMs).toBe(0);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('a repeat ejection lasts 20 s', () => {
      pool = makePool({ ejectAfter: 3 });
      pool.applySnapshot(snapshot(endpoint('a:1'), endpoint('b:1')));
      fail('b:1', 3);
      vi.advanceTimersByTime(10_001);
      expect(backendIds(balancer.candidates)).toEqual(['a:1', 'b:1']);

      // Back from ejection it needs ejectAfter fresh failures to go out again.
      fail('b:1', 2);
      expect(backendIds(balancer.candidates)).toEqual(['a:1', 'b:1']);
      fail('b:1', 1);
      expect(backendIds(balancer.candidates)).toEqual(['a:1']);
      expect(backend('b:1').ejectedUntilMs - Date.now()).toBe(20_000);
      expect(metrics.ejections).toEqual(['b:1', 'b:1']);

      vi.advanceTimersByTime(19_999);
      expect(backendIds(balancer.candidates)).toEqual(['a:1']);
      vi.advanceTimersByTime(2);
      expect(backendIds(balancer.candidates)).toEqual(['a:1', 'b:1']);
    });

    it('a connect success resets the consecutive failure count', () => {
      pool = makePool({ ejectAfter: 3 });
      pool.applySnapshot(snapshot(endpoint('a:1'), endpoint('b:1')));
      fail('b:1', 2);
      pool.connectSucceeded(backend('b:1'));
      fail('b:1', 2);
      expect(backendIds(balancer.candidates)).toEqual(['a:1', 'b:1']);
      expect(metrics.ejections).toEqual([]);
      fail('b:1', 1);
      expect(backendIds(balancer.candidates)).toEqual(['a:1']);
    });

    it('never ejects more than maxEjectionPercent of the backends; a refused one goes when room opens', () => {
      pool = makePool({ ejectAfter: 2, maxEjectionPercent: 50 });
      pool.applySnapshot(
        snapshot(endpoint('a:1'), endpoint('b:1'), endpoint('c:1'), endpoint('d:1')),
      );
      fail('a:1', 2);
      vi.advanceTimersByTime(1000);
      fail('b:1', 2);
      fail('c:1', 2);
      // 2 of 4 is the limit: c stays in.
      expect(backendIds(balancer.candidates)).toEqual(['c:1', 'd:1']);
      expect(metrics.ejections).toEqual(['a:1', 'b:1']);
      expect(backend('c:1').ejectedUntilMs).toBe(0);

      // a's ejection ends (b's a second later): the failure count c kept ejects it at the next failure.
      vi.advanceTimersByTime(9_001);
      expect(backendIds(balancer.candidates)).toEqual(['a:1', 'c:1', 'd:1']);
      fail('c:1', 1);
      expect(metrics.ejections).toEqual(['a:1', 'b:1', 'c:1']);
      expect(backendIds(balancer.candidates)).toEqual(['a:1', 'd:1']);
      // At no point are more than 2 of the 4 out.
      fail('d:1', 5);
      expect(backendIds(balancer.candidates)).toEqual(['a:1', 'd:1']);
      vi.advanceTimersByTime(1000);
      expect(backendIds(balancer.candidates)).toEqual(['a:1', 'b:1', 'd:1']);
    });

    it('a pool without an outlier detector never ejects', () => {
      pool.applySnapshot(snapshot(endpoint('a:1'), endpoint('b:1')));
      fail('b:1', 100);
      expect(backendIds(balancer.candidates)).toEqual(['a:1', 'b:1']);
      expect(backend('b:1').ejectedUntilMs).toBe(0);
      expect(metrics.ejections).toEqual([]);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('without a detector, passes connect outcomes on and follows ejections decided elsewhere', () => {
      const outcomes: string[] = [];
      const follower = new BackendPool({
        listener: 'test',
        balancer,
        metrics,
        logger: silentLogger,
        backendDrainTimeoutMs: 0,
        clock,
        connectOutcomes: {
          failed: (b) => outcomes.push(`fail ${b.id}`),
          succeeded: (b) => outcomes.push(`ok ${b.id}`),
        },
      });
      pool.dispose();
      pool = follower;
      pool.applySnapshot(snapshot(endpoint('a:1'), endpoint('b:1')));
      fail('b:1', 3);
      pool.connectSucceeded(backend('a:1'));
      expect(outcomes).toEqual(['fail b:1', 'fail b:1', 'fail b:1', 'ok a:1']);
      expect(backend('b:1').ejectedUntilMs).toBe(0);
      pool.eject('b:1', 5000);
      expect(backendIds(balancer.candidates)).toEqual(['a:1']);
      // Counted by the thread that decided it, not here.
      expect(backend('b:1').ejections).toBe(0);
      expect(metrics.ejections).toEqual([]);
      vi.advanceTimersByTime(5001);
      expect(backendIds(balancer.candidates)).toEqual(['a:1', 'b:1']);
    });

    it('tells its owner of each ejection it decides, with its length', () => {
      const seen: string[] = [];
      pool = makePool({ ejectAfter: 2 });
      pool.applySnapshot(snapshot(endpoint('a:1'), endpoint('b:1')));
      const decided = new BackendPool({
        listener: 'test',
        balancer,
        metrics,
        logger: silentLogger,
        backendDrainTimeoutMs: 0,
        clock,
        outlier: new OutlierDetector({
          ejectAfter: 2,
          maxEjectionPercent: 50,
          totalBackends: () => 2,
          clock,
        }),
        onEjected: (b, forMs) => seen.push(`${b.id} ${forMs}`),
      });
      decided.applySnapshot(snapshot(endpoint('a:1'), endpoint('b:1')));
      const b = decided.get('b:1');
      if (b === undefined) throw new Error('no b:1');
      decided.connectFailed(b);
      expect(seen).toEqual([]);
      decided.connectFailed(b);
      expect(seen).toEqual(['b:1 10000']);
      decided.dispose();
    });

    it('logs the ejection with its length', () => {
      const warn = vi.fn<(msg: string, fields?: LogFields) => void>();
      pool = makePool({ ejectAfter: 1, logger: { ...silentLogger, warn } });
      pool.applySnapshot(snapshot(endpoint('a:1'), endpoint('b:1')));
      fail('b:1', 1);
      expect(warn).toHaveBeenCalledWith('backend ejected after consecutive connect failures', {
        listener: 'test',
        backend: 'b:1',
        forMs: 10_000,
      });
    });
  });

  describe('panic mode', () => {
    it('when every ready backend is unhealthy, all of them are candidates (tier panic), counted once per entry', () => {
      pool.applySnapshot(snapshot(endpoint('a:1'), endpoint('b:1'), endpoint('c:1')));
      pool.setHealthy('a:1', false);
      pool.setHealthy('b:1', false);
      expect(backendIds(balancer.candidates)).toEqual(['c:1']);
      expect(pool.tier).toBe('ready');
      expect(onPanic).not.toHaveBeenCalled();

      pool.setHealthy('c:1', false);
      expect(pool.tier).toBe('panic');
      expect(backendIds(balancer.candidates)).toEqual(['a:1', 'b:1', 'c:1']);
      expect(pool.hasUsableBackend).toBe(true);
      expect(pool.pick(CTX)?.id).toBe('a:1');
      expect(onPanic).toHaveBeenCalledTimes(1);
      expect(pool.panics).toBe(1);

      // Staying in panic is not a new entry.
      pool.refresh();
      pool.applySnapshot(snapshot(endpoint('a:1'), endpoint('b:1'), endpoint('c:1')));
      expect(pool.tier).toBe('panic');
      expect(onPanic).toHaveBeenCalledTimes(1);

      // One recovers: out of panic, only it gets traffic.
      pool.setHealthy('b:1', true);
      expect(pool.tier).toBe('ready');
      expect(backendIds(balancer.candidates)).toEqual(['b:1']);

      // Down again: a second entry.
      pool.setHealthy('b:1', false);
      expect(pool.tier).toBe('panic');
      expect(onPanic).toHaveBeenCalledTimes(2);
      expect(pool.panics).toBe(2);
    });

    it('unhealthy plus ejected is panic too; the ejection ending leaves panic by itself', () => {
      pool = makePool({ ejectAfter: 1, maxEjectionPercent: 50 });
      pool.applySnapshot(snapshot(endpoint('a:1'), endpoint('b:1')));
      pool.setHealthy('a:1', false);
      fail('b:1', 1);
      expect(pool.tier).toBe('panic');
      expect(backendIds(balancer.candidates)).toEqual(['a:1', 'b:1']);
      expect(onPanic).toHaveBeenCalledTimes(1);

      vi.advanceTimersByTime(10_001);
      expect(pool.tier).toBe('ready');
      expect(backendIds(balancer.candidates)).toEqual(['b:1']);
    });

    it('every backend ejected (maxEjectionPercent 100) is panic; failures during panic do not extend ejections', () => {
      pool = makePool({ ejectAfter: 1, maxEjectionPercent: 100 });
      pool.applySnapshot(snapshot(endpoint('a:1'), endpoint('b:1')));
      fail('a:1', 1);
      fail('b:1', 1);
      expect(pool.tier).toBe('panic');
      expect(backendIds(balancer.candidates)).toEqual(['a:1', 'b:1']);
      expect(onPanic).toHaveBeenCalledTimes(1);
      const until = backend('b:1').ejectedUntilMs;

      // Panic traffic to them fails again: ignored while they are out.
      vi.advanceTimersByTime(5000);
      fail('b:1', 3);
      expect(backend('b:1').ejectedUntilMs).toBe(until);
      expect(metrics.ejections).toEqual(['a:1', 'b:1']);

      vi.advanceTimersByTime(5001);
      expect(pool.tier).toBe('ready');
      expect(backendIds(balancer.candidates)).toEqual(['a:1', 'b:1']);
      expect(onPanic).toHaveBeenCalledTimes(1);
    });

    it('panic never offers backends in maintenance, of weight 0 or not serving', () => {
      pool.applySnapshot(
        snapshot(
          endpoint('a:1'),
          endpoint('b:1', { weight: 0 }),
          endpoint('c:1', { state: 'not-serving' }),
          endpoint('d:1'),
        ),
      );
      pool.setAdminDrain('d:1', true);
      pool.setHealthy('a:1', false);
      expect(pool.tier).toBe('panic');
      expect(backendIds(balancer.candidates)).toEqual(['a:1']);
    });

    it('logs the entry into panic mode once', () => {
      const warn = vi.fn<(msg: string, fields?: LogFields) => void>();
      pool = makePool({ logger: { ...silentLogger, warn } });
      pool.applySnapshot(snapshot(endpoint('a:1')));
      pool.setHealthy('a:1', false);
      pool.refresh();
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn).toHaveBeenCalledWith(
        'panic mode: every backend is unhealthy or ejected; using all of them',
        { listener: 'test' },
      );
    });

    describe('and draining endpoints', () => {
      it('a usable draining endpoint is preferred over panic among unusable ready ones', () => {
        pool.applySnapshot(
          snapshot(endpoint('a:1'), endpoint('b:1'), endpoint('c:1', { state: 'draining' })),
        );
        expect(backendIds(balancer.candidates)).toEqual(['a:1', 'b:1']);
        pool.setHealthy('a:1', false);
        pool.setHealthy('b:1', false);
        expect(pool.tier).toBe('draining-fallback');
        expect(backendIds(balancer.candidates)).toEqual(['c:1']);
        expect(onPanic).not.toHaveBeenCalled();

        // The draining one fails too: panic over the ready ones (not the draining one).
        pool.setHealthy('c:1', false);
        expect(pool.tier).toBe('panic');
        expect(backendIds(balancer.candidates)).toEqual(['a:1', 'b:1']);
        expect(onPanic).toHaveBeenCalledTimes(1);

        // It recovers: back to the draining fallback, out of panic.
        pool.setHealthy('c:1', true);
        expect(pool.tier).toBe('draining-fallback');
        expect(backendIds(balancer.candidates)).toEqual(['c:1']);
      });

      it('with no ready endpoint at all, panic is over the draining ones', () => {
        pool.applySnapshot(
          snapshot(
            endpoint('a:1', { state: 'not-serving' }),
            endpoint('b:1', { state: 'draining' }),
            endpoint('c:1', { state: 'draining' }),
          ),
        );
        expect(pool.tier).toBe('draining-fallback');
        pool.setHealthy('b:1', false);
        pool.setHealthy('c:1', false);
        expect(pool.tier).toBe('panic');
        expect(backendIds(balancer.candidates)).toEqual(['b:1', 'c:1']);
        expect(onPanic).toHaveBeenCalledTimes(1);
      });
    });
  });

  describe('slow start after other returns to service (regressions)', () => {
    it('restarts the ramp when readiness comes back, when maintenance ends, and for an ejection that ended before any timer', () => {
      pool = makePool({ slowStartMs: SLOW_START_MS, ejectAfter: 1, maxEjectionPercent: 100 });
      pool.applySnapshot(snapshot(endpoint('a:80'), endpoint('b:80')));
      vi.advanceTimersByTime(20_000);
      expect(backend('b:80').rampFactor).toBe(1);
      // Readiness lost, then back: ramps again.
      pool.applySnapshot(snapshot(endpoint('a:80'), endpoint('b:80', { state: 'not-serving' })));
      vi.advanceTimersByTime(30_000);
      pool.applySnapshot(snapshot(endpoint('a:80'), endpoint('b:80')));
      expect(backend('b:80').rampFactor).toBeCloseTo(0.1);
      vi.advanceTimersByTime(20_000);
      // Maintenance, then back in service: ramps again.
      pool.setAdminDrain('b:80', true);
      vi.advanceTimersByTime(30_000);
      pool.setAdminDrain('b:80', false);
      expect(backend('b:80').rampFactor).toBeCloseTo(0.1);
      vi.advanceTimersByTime(20_000);
      // Ejected; a refresh by someone else right when the ejection ends ramps it, not full weight.
      pool.connectFailed(backend('b:80'));
      vi.setSystemTime(Date.now() + 10_000);
      pool.refresh();
      expect(backend('b:80').rampFactor).toBeCloseTo(0.1);
    });
  });
});
