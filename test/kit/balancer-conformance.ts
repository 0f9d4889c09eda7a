import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Backend, Closable } from '../../src/backends/backend.ts';
import { BackendPool } from '../../src/backends/backend-pool.ts';
import type { Balancer } from '../../src/balancing/balancer.ts';
import type { Endpoint, EndpointState } from '../../src/core/endpoint.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { noopMetrics } from '../../src/metrics/proxy-metrics.ts';
import { clientContext, makeBackend, pickContext } from './backends.ts';
import { seededRandom } from './random.ts';
import { InternalError } from '../../src/core/errors.ts';

/**
 * The shared balancer suite (in the style of hono's `common.case.test.ts`):
 * every strategy's own test calls `runBalancerConformance`, then adds its
 * exact pick sequences. A strategy may leave out a case that does not apply, giving the reason.
 */
export interface BalancerConformanceOptions {
  readonly name: string;
  /** A fresh balancer; randomised ones get a freshly seeded `random()` each time. */
  readonly create: () => Balancer<Backend>;
  /** Cases that do not apply to this strategy, with the reason: they are not registered at all. */
  readonly notApplicable?: readonly {
    readonly reason: string;
    readonly tests: readonly string[];
  }[];
  /**
   * How far a backend's share of picks may be from its weight's share
   * (default 0.02); a strategy may loosen it only by giving a reason.
   */
  readonly weightTolerance?: { readonly share: number; readonly reason: string };
}

/** Fixed seed so a property failure reproduces; fast-check prints the counterexample. */
export const CONFORMANCE_SEED = 0x4ead_3a7;

/** `n` picks with no connection opened or closed; ids, `-` for undefined. */
export function pickIds(
  balancer: Balancer<Backend>,
  n: number,
  tried: readonly Backend[] = [],
): string[] {
  return Array.from({ length: n }, () => balancer.pick(pickContext(tried))?.id ?? '-');
}

export interface LoadOptions {
  readonly picks: number;
  /** Connections kept open: once reached, a random open one closes before each pick. */
  readonly concurrency: number;
  readonly seed: number;
}

/**
 * Drive a balancer the way the proxy does: each pick (from a new client)
 * opens a connection (`active++`), connections close at random (`active--`,
 * `onClose`). Returns picks per backend id.
 */
export function simulateLoad(
  balancer: Balancer<Backend>,
  backends: readonly Backend[],
  opts: LoadOptions,
): Map<string, number> {
  const random = seededRandom(opts.seed);
  const open: Backend[] = [];
  const counts = new Map<string, number>(backends.map((b) => [b.id, 0]));
  balancer.update(backends);
  for (let i = 0; i < opts.picks; i++) {
    if (open.length >= opts.concurrency) {
      const k = Math.floor(random() * open.length);
      const closing = open[k];
      if (closing === undefined) throw new InternalError('no open connection to close');
      open[k] = open[open.length - 1] as Backend;
      open.pop();
      closing.active--;
      balancer.onClose?.(closing);
    }
    const b = balancer.pick(clientContext(i));
    if (b === undefined) throw new InternalError('no pick');
    b.active++;
    b.total++;
    open.push(b);
    counts.set(b.id, (counts.get(b.id) ?? 0) + 1);
  }
  return counts;
}

/** Backend sets and pick/update sequences for the property tests. */
const universeArb = fc.array(
  fc.record({ weight: fc.integer({ min: 1, max: 20 }), active: fc.nat({ max: 8 }) }),
  { minLength: 1, maxLength: 8 },
);

type Step =
  | { readonly kind: 'update'; readonly mask: number }
  | { readonly kind: 'pick'; readonly tried: number };

const stepsArb = fc.array(
  fc.oneof(
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('update' as const), mask: fc.nat(255) }),
    },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('pick' as const), tried: fc.nat(255) }) },
  ),
  { minLength: 1, maxLength: 60 },
);

/** Fresh backends `b0`, `b1`, … with the weights and open connections the property drew. */
function backendsOf(
  universe: readonly { readonly weight: number; readonly active: number }[],
): Backend[] {
  return universe.map((u, i) => {
    const b = makeBackend(`b${i}`, u.weight);
    b.active = u.active;
    return b;
  });
}

function subset(all: readonly Backend[], mask: number): Backend[] {
  return all.filter((_, i) => (mask & (1 << i)) !== 0);
}

export function runBalancerConformance(opts: BalancerConformanceOptions): void {
  const notApplicable = new Map<string, string>();
  for (const s of opts.notApplicable ?? []) for (const t of s.tests) notApplicable.set(t, s.reason);
  const tolerance = opts.weightTolerance?.share ?? 0.02;
  const weightTests = new Set([
    'honours weights under load',
    'shares picks by weight when connections never overlap',
  ]);
  const titles = new Set<string>();
  const test = (title: string, fn: () => void): void => {
    titles.add(title);
    const reason = notApplicable.get(title);
    // A case that does not apply to a strategy (a rotation for a random pick) is not registered:
    // the suite reports no skipped tests, and the reason stays beside the strategy's options.
    if (reason !== undefined) return;
    if (opts.weightTolerance !== undefined && weightTests.has(title)) {
      it(`${title} (within ${tolerance}: ${opts.weightTolerance.reason})`, fn);
    } else it(title, fn);
  };

  describe(`${opts.name}: balancer conformance`, () => {
    test('returns undefined with no candidates', () => {
      const balancer = opts.create();
      expect(balancer.pick(pickContext())).toBeUndefined();
      balancer.update([]);
      expect(balancer.pick(pickContext())).toBeUndefined();
      const a = makeBackend('a');
      balancer.update([a]);
      expect(balancer.pick(pickContext())).toBe(a);
      balancer.update([]);
      expect(balancer.pick(pickContext())).toBeUndefined();
      expect(balancer.pick(pickContext([a]))).toBeUndefined();
    });

    test('picks only current candidates, avoiding tried ones while an untried one exists', () => {
      fc.assert(
        fc.property(universeArb, stepsArb, (universe, steps: Step[]) => {
          const all = backendsOf(universe);
          const balancer = opts.create();
          let candidates: Backend[] = all;
          balancer.update(candidates);
          for (const step of steps) {
            if (step.kind === 'update') {
              candidates = subset(all, step.mask);
              balancer.update(candidates);
              continue;
            }
            const tried = subset(all, step.tried);
            const picked = balancer.pick(pickContext(tried));
            if (candidates.length === 0) {
              expect(picked).toBeUndefined();
              continue;
            }
            expect(picked).toBeDefined();
            if (picked === undefined) return;
            expect(candidates).toContain(picked);
            if (candidates.some((c) => !tried.includes(c))) expect(tried).not.toContain(picked);
          }
        }),
        { seed: CONFORMANCE_SEED, numRuns: 300 },
      );
    });

    test('avoids every tried backend while an untried one exists', () => {
      const [a, b, c] = [makeBackend('a'), makeBackend('b'), makeBackend('c')];
      const balancer = opts.create();
      balancer.update([a, b, c]);
      for (let i = 0; i < 10; i++) expect(balancer.pick(pickContext([a, b]))).toBe(c);
      for (let i = 0; i < 10; i++) expect(balancer.pick(pickContext([c, a]))).toBe(b);
    });

    test('still picks when every candidate was tried', () => {
      const [a, b] = [makeBackend('a'), makeBackend('b')];
      const balancer = opts.create();
      balancer.update([a, b]);
      const picked = new Set(pickIds(balancer, 10, [a, b]));
      expect(picked.has('-')).toBe(false);
      expect([...picked].every((id) => id === 'a' || id === 'b')).toBe(true);
      // Tried backends that are no longer candidates do not count.
      const gone = makeBackend('gone');
      balancer.update([a]);
      expect(balancer.pick(pickContext([gone]))).toBe(a);
    });

    test('keeps its state across an update() with the same backends', () => {
      fc.assert(
        fc.property(universeArb, fc.nat(40), fc.nat(40), (universe, before, after) => {
          const build = (): Backend[] => backendsOf(universe);
          const plain = opts.create();
          const updated = opts.create();
          const setA = build();
          const setB = build();
          plain.update(setA);
          updated.update(setB);
          expect(pickIds(updated, before)).toEqual(pickIds(plain, before));
          // A fresh array holding the same Backend objects, as the pool passes on refresh().
          updated.update([...setB]);
          expect(pickIds(updated, after)).toEqual(pickIds(plain, after));
        }),
        { seed: CONFORMANCE_SEED, numRuns: 200 },
      );
    });

    test('continues the rotation of the remaining backends when one is removed', () => {
      for (let n = 2; n <= 5; n++) {
        for (let before = 0; before <= 2 * n; before++) {
          for (let removed = 0; removed < n; removed++) {
            const backends = Array.from({ length: n }, (_, i) => makeBackend(`b${i}`));
            const reference = opts.create();
            const changed = opts.create();
            reference.update(backends);
            changed.update(backends);
            expect(pickIds(changed, before)).toEqual(pickIds(reference, before));
            const gone = backends[removed] as Backend;
            changed.update(backends.filter((b) => b !== gone));
            // What the unchanged balancer would pick next, once the removed id is skipped.
            const expected = pickIds(reference, 2).find((id) => id !== gone.id);
            const label = `n=${n} after ${before} picks, removed ${gone.id}`;
            expect(changed.pick(pickContext())?.id, label).toBe(expected);
          }
        }
      }
    });

    test('rotates through equal backends', () => {
      const backends = ['a', 'b', 'c', 'd'].map((id) => makeBackend(id));
      const balancer = opts.create();
      balancer.update(backends);
      const picks = pickIds(balancer, 40);
      for (const b of backends) expect(picks.filter((id) => id === b.id)).toHaveLength(10);
      for (let i = 0; i + 4 <= picks.length; i += 4) {
        expect(new Set(picks.slice(i, i + 4)).size).toBe(4);
      }
    });

    test('honours weights under load', () => {
      const cases: readonly (readonly number[])[] = [
        [5, 3, 1, 1],
        [1, 1],
        [10, 1],
        [2, 7, 1],
      ];
      for (const weights of cases) {
        const backends = weights.map((w, i) => makeBackend(`w${i}`, w));
        const total = weights.reduce((s, w) => s + w, 0);
        const picks = 20_000;
        const counts = simulateLoad(opts.create(), backends, {
          picks,
          concurrency: 2 * total,
          seed: CONFORMANCE_SEED,
        });
        weights.forEach((w, i) => {
          const share = (counts.get(`w${i}`) ?? 0) / picks;
          const label = `weights ${weights.join(':')}, backend ${i}: share ${share}`;
          expect(Math.abs(share - w / total), label).toBeLessThan(tolerance);
        });
      }
    });

    test('shares picks by weight when connections never overlap', () => {
      // Every backend idle at every pick: only the tie-breaking can honour weights.
      // Fractional weights too: slow start scales a weight down while a backend ramps up.
      for (const weights of [
        [5, 1],
        [2.5, 0.5, 1],
        [5, 3, 1, 1],
        [1, 1, 1],
        [2, 7, 1],
      ]) {
        const backends = weights.map((w, i) => makeBackend(`w${i}`, w));
        const total = weights.reduce((s, w) => s + w, 0);
        const balancer = opts.create();
        balancer.update(backends);
        const picks = 20_000;
        const counts = new Map<string, number>();
        for (let i = 0; i < picks; i++) {
          const id = balancer.pick(clientContext(i))?.id ?? '-';
          counts.set(id, (counts.get(id) ?? 0) + 1);
        }
        weights.forEach((w, i) => {
          const share = (counts.get(`w${i}`) ?? 0) / picks;
          const label = `weights ${weights.join(':')}, backend ${i}: share ${share}`;
          expect(Math.abs(share - w / total), label).toBeLessThan(tolerance);
        });
      }
    });

    test('never picks a draining, not-serving, weight-0 or removed backend while a ready one exists', () => {
      const pool = new BackendPool({
        listener: 'conformance',
        balancer: opts.create(),
        metrics: noopMetrics.listener('conformance'),
        logger: silentLogger,
        backendDrainTimeoutMs: 0,
      });
      const ep = (id: string, state: EndpointState = 'ready', weight = 1): Endpoint => ({
        id,
        address: '127.0.0.1',
        port: 1,
        weight,
        state,
      });
      const open: { backend: Backend; session: Closable }[] = [];
      const random = seededRandom(CONFORMANCE_SEED);
      let client = 0;
      /** Picks through the pool (opening and closing connections); returns the ids picked. */
      const drive = (endpoints: Endpoint[]): Set<string> => {
        pool.applySnapshot({ endpoints, updatedAtMs: 0 });
        const picked = new Set<string>();
        for (let i = 0; i < 300; i++) {
          if (open.length > 20) {
            const [c] = open.splice(Math.floor(random() * open.length), 1);
            if (c !== undefined) pool.detach(c.backend, c.session);
          }
          const backend = pool.pick(clientContext(client++));
          if (backend === undefined) break;
          const session: Closable = { closeGracefully: () => undefined };
          pool.attach(backend, session);
          open.push({ backend, session });
          picked.add(backend.id);
        }
        return picked;
      };
      const all = [
        ep('a'),
        ep('b'),
        ep('c', 'draining'),
        ep('d', 'not-serving'),
        ep('e', 'ready', 0),
      ];
      // Only the ready ones; whether both get picks is the rotation and weight cases' business
      // (a primary strategy keeps to one).
      const first = drive(all);
      expect(first.size).toBeGreaterThan(0);
      expect([...first].filter((id) => id !== 'a' && id !== 'b')).toEqual([]);
      // a leaves discovery (its open connections stay).
      expect(drive(all.slice(1))).toEqual(new Set(['b']));
      // Nothing ready: the draining backend is the fallback.
      expect(drive([ep('b', 'not-serving'), ep('c', 'draining'), ep('e', 'ready', 0)])).toEqual(
        new Set(['c']),
      );
      // a is back and ready: the draining one gets nothing new.
      expect(drive([ep('a'), ep('c', 'draining')])).toEqual(new Set(['a']));
      expect(drive([])).toEqual(new Set());
    });

    test('a backend that joins and leaves before any pick changes nothing for the others', () => {
      fc.assert(
        fc.property(universeArb, fc.nat(30), fc.nat(30), (universe, before, after) => {
          const build = (): Backend[] => backendsOf(universe);
          const plain = opts.create();
          const visited = opts.create();
          const setA = build();
          const setB = build();
          plain.update(setA);
          visited.update(setB);
          const picksOf = (balancer: Balancer<Backend>, n: number, from: number) =>
            Array.from({ length: n }, (_, i) => balancer.pick(clientContext(from + i))?.id);
          expect(picksOf(visited, before, 0)).toEqual(picksOf(plain, before, 0));
          visited.update([...setB, makeBackend('guest', 3)]);
          visited.update(setB);
          expect(picksOf(visited, after, before)).toEqual(picksOf(plain, after, before));
        }),
        { seed: CONFORMANCE_SEED, numRuns: 200 },
      );
    });

    // A misspelt title would otherwise leave registered a case the strategy meant to exclude.
    for (const title of notApplicable.keys()) {
      if (!titles.has(title))
        throw new Error(`${opts.name}: no conformance case is titled "${title}"`);
    }
  });
}
