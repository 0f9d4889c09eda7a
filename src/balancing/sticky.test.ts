import { describe, expect, it } from 'vitest';
import { Backend } from '../backends/backend.ts';
import { noopMetrics } from '../metrics/proxy-metrics.ts';
import { clientContext, makeBackend, pickContext } from '../../test/kit/backends.ts';
import { runBalancerConformance } from '../../test/kit/balancer-conformance.ts';
import { seededRandom } from '../../test/kit/random.ts';
import { StickyBalancer, type StickyBalancerOptions } from './sticky.ts';

const HASHING = {
  reason: 'hashing: a client keeps its backend, there is no rotation',
  tests: [
    'continues the rotation of the remaining backends when one is removed',
    'rotates through equal backends',
  ],
};

/** A backend's share of the ring varies by about 1/√points: 2 % with 2048. */
const RING_GRANULARITY = {
  share: 0.04,
  reason: 'ring points: a share is exact only to about 1/√points',
};

runBalancerConformance({
  name: 'sticky',
  create: () => new StickyBalancer({ key: 'client-ip', boundedLoad: 0 }),
  notApplicable: [HASHING],
  weightTolerance: RING_GRANULARITY,
});

runBalancerConformance({
  name: 'sticky, bounded load 1.25',
  create: () => new StickyBalancer({ key: 'client-ip', boundedLoad: 1.25 }),
  notApplicable: [HASHING],
  weightTolerance: {
    share: 0.05,
    reason: 'ring points, and at this low concurrency the caps spill light backends’ random excess',
  },
});

const KEYS = 100_000;

function sticky(
  backends: readonly Backend[],
  opts: Partial<StickyBalancerOptions> = {},
): StickyBalancer<Backend> {
  const balancer = new StickyBalancer<Backend>({ key: 'client-ip', boundedLoad: 0, ...opts });
  balancer.update(backends);
  return balancer;
}

function pods(n: number, from = 0): Backend[] {
  return Array.from({ length: n }, (_, i) => makeBackend(`redis-${from + i}`));
}

/** The backend id of each of the first `KEYS` clients. */
function owners(balancer: StickyBalancer<Backend>): string[] {
  return Array.from({ length: KEYS }, (_, i) => balancer.pick(clientContext(i))?.id ?? '-');
}

function countsOf(ids: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

function spread(counts: Map<string, number>, n: number): number {
  return Math.max(...counts.values()) / (KEYS / n);
}

describe('StickyBalancer', () => {
  it('names its strategy', () => {
    expect(sticky([]).strategy).toBe('sticky');
  });

  it('sends a client to the same backend every time, whatever its source port', () => {
    const balancer = sticky(pods(5));
    const first = balancer.pick(pickContext([], 0, '192.0.2.10', 40_000))?.id;
    for (let port = 1024; port < 1100; port++) {
      expect(balancer.pick(pickContext([], 0, '192.0.2.10', port))?.id).toBe(first);
    }
  });

  it('with --sticky-key client-ip-port, spreads one address over backends by source port', () => {
    const balancer = sticky(pods(5), { key: 'client-ip-port' });
    const seen = new Set<string | undefined>();
    for (let port = 1024; port < 1124; port++) {
      const ctx = pickContext([], 0, '192.0.2.10', port);
      const id = balancer.pick(ctx)?.id;
      expect(balancer.pick(ctx)?.id).toBe(id);
      seen.add(id);
    }
    expect(seen.size).toBe(5);
  });

  it('spreads 100,000 clients within 10 % of the mean over 9, 10 and 11 backends', () => {
    for (const n of [9, 10, 11]) {
      expect(spread(countsOf(owners(sticky(pods(n)))), n), `${n} backends`).toBeLessThanOrEqual(
        1.1,
      );
    }
  });

  it('10 → 9: moves only the clients of the backend that left (≤ 1.1 × ideal)', () => {
    const ten = pods(10);
    const before = owners(sticky(ten));
    for (const gone of ten) {
      const after = owners(sticky(ten.filter((b) => b !== gone)));
      const movedFrom = before.filter((id, k) => after[k] !== id);
      const moved = movedFrom.length;
      expect(new Set(movedFrom)).toEqual(new Set([gone.id]));
      expect(moved).toBe(before.filter((id) => id === gone.id).length);
      expect(moved).toBeLessThanOrEqual(1.1 * (KEYS / 10));
    }
  });

  it('10 → 11: moves only the clients the new backend takes, about 1/11 (≤ 1.1 × ideal)', () => {
    const ten = pods(10);
    const before = owners(sticky(ten));
    const after = owners(sticky([...ten, makeBackend('redis-10')]));
    const movedTo = after.filter((id, k) => before[k] !== id);
    const moved = movedTo.length;
    expect(new Set(movedTo)).toEqual(new Set(['redis-10']));
    expect(moved).toBeLessThanOrEqual(1.1 * (KEYS / 11));
    expect(moved).toBeGreaterThanOrEqual(0.9 * (KEYS / 11));
  });

  it('maps every client the same way in two instances that see the same set (any order)', () => {
    const one = sticky(pods(10));
    const other = sticky(pods(10).reverse());
    expect(owners(other)).toEqual(owners(one));
  });

  it('keeps the clients of an id whose IP changed (a StatefulSet pod that came back)', () => {
    const set = pods(10);
    const before = owners(sticky(set));
    const moved = new Backend(
      { id: 'redis-3', address: '10.9.9.9', port: 6379, weight: 1, state: 'ready' },
      noopMetrics.listener('test').backend('redis-3'),
    );
    const balancer = sticky(set);
    balancer.update(set.map((b) => (b.id === 'redis-3' ? moved : b)));
    expect(owners(balancer)).toEqual(before);
    expect(balancer.pick(clientContext(before.indexOf('redis-3')))).toBe(moved);
  });

  it('sends the clients of a draining backend to their next choice and back when it returns', () => {
    const set = pods(10);
    const balancer = sticky(set);
    const before = owners(balancer);
    const draining = set[4] as Backend;
    balancer.update(set.filter((b) => b !== draining));
    const during = owners(balancer);
    // Its clients went where a retry that skips it goes: the next choice.
    const retry = sticky(set);
    const wrong = before.filter((id, k) =>
      id === draining.id
        ? during[k] !== retry.pick(clientContext(k, [draining]))?.id
        : during[k] !== id,
    );
    expect(wrong).toEqual([]);
    balancer.update(set);
    expect(owners(balancer)).toEqual(before);
  });

  it('shares clients by weight', () => {
    const set = [makeBackend('a', 3), makeBackend('b', 1), makeBackend('c', 1)];
    const counts = countsOf(owners(sticky(set)));
    expect((counts.get('a') ?? 0) / KEYS).toBeCloseTo(0.6, 1);
    expect((counts.get('b') ?? 0) / KEYS).toBeCloseTo(0.2, 1);
    expect((counts.get('c') ?? 0) / KEYS).toBeCloseTo(0.2, 1);
  });

  /** Every client opens one connection that stays open; returns the max/mean active. */
  function openAll(
    balancer: StickyBalancer<Backend>,
    set: readonly Backend[],
    client: (i: number) => number,
  ) {
    for (let i = 0; i < KEYS; i++) {
      const b = balancer.pick(clientContext(client(i))) as Backend;
      b.active++;
    }
    return Math.max(...set.map((b) => b.active)) / (KEYS / set.length);
  }

  it('with --sticky-bounded-load 1.25, keeps every backend within 1.25 × the mean', () => {
    const set = pods(10);
    expect(openAll(sticky(set, { boundedLoad: 1.25 }), set, (i) => i)).toBeLessThanOrEqual(1.25);
  });

  it('with a hot client, bounded load spills the excess; without it one backend takes it all', () => {
    // 30 % of the connections come from one address.
    const random = seededRandom(11);
    const hot = (i: number) => (random() < 0.3 ? 7 : i);
    const unbounded = pods(10);
    expect(openAll(sticky(unbounded), unbounded, hot)).toBeGreaterThan(3);
    const bounded = pods(10);
    expect(openAll(sticky(bounded, { boundedLoad: 1.25 }), bounded, hot)).toBeLessThanOrEqual(1.25);
  });

  it('spills a client over the cap to its next choice, and takes it back as load drops', () => {
    const set = pods(4);
    const balancer = sticky(set, { boundedLoad: 1.25 });
    const ctx = clientContext(1);
    const home = balancer.pick(ctx) as Backend;
    const next = balancer.pick(clientContext(1, [home]));
    // Total 10 (+1 being placed) over 4 equal backends: cap ⌈1.25 × 11 / 4⌉ = 4.
    for (const b of set) b.active = 2;
    home.active = 4;
    balancer.update(set);
    expect(balancer.pick(ctx)).toBe(next);
    // Total 7: cap ⌈1.25 × 8 / 4⌉ = 3, and home has 1.
    home.active = 1;
    balancer.onClose(home);
    expect(balancer.pick(ctx)).toBe(home);
  });
});
