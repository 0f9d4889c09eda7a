import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../backends/backend.ts';
import { makeBackend, pickContext } from '../../test/kit/backends.ts';
import { CONFORMANCE_SEED, runBalancerConformance } from '../../test/kit/balancer-conformance.ts';
import { seededRandom } from '../../test/kit/random.ts';
import { RandomBalancer } from './random.ts';

const NOT_A_ROTATION = {
  reason: 'random draws, not a rotation',
  tests: [
    'continues the rotation of the remaining backends when one is removed',
    'rotates through equal backends',
  ],
};

runBalancerConformance({
  name: 'random',
  create: () => new RandomBalancer({ random: seededRandom(CONFORMANCE_SEED) }),
  notApplicable: [NOT_A_ROTATION],
});

/** A `random()` that returns the given values in turn. */
function scripted(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length] as number;
}

function backends(spec: Record<string, { weight?: number; active?: number }>): Backend[] {
  return Object.entries(spec).map(([id, s]) => {
    const b = makeBackend(id, s.weight ?? 1);
    b.active = s.active ?? 0;
    return b;
  });
}

describe('RandomBalancer', () => {
  it('names its strategy', () => {
    expect(new RandomBalancer<Backend>({ random: Math.random }).strategy).toBe('random');
  });

  // Draws: the first at r × total weight along the cumulative weights, the
  // second likewise with the first's stretch cut out (equal weights: first + 1
  // + ⌊r × (n − 1)⌋, wrapping). Less load per weight wins; a tie keeps the first.
  it.each([
    ['a,b,c,d idle; draws a then c: tie keeps a', { a: {}, b: {}, c: {}, d: {} }, [0.1, 0.5], 'a'],
    ['a busier than c: c', { a: { active: 2 }, b: {}, c: {}, d: {} }, [0.1, 0.5], 'c'],
    [
      'draws d then a (wraps): a less loaded',
      { a: {}, b: {}, c: {}, d: { active: 1 } },
      [0.9, 0],
      'a',
    ],
    [
      'weights 3:1:1, draws 0.5 → a (1.5 of 5), then 0.6 of b,c → c: c has 0/1 < 2/3',
      { a: { weight: 3, active: 2 }, b: {}, c: {} },
      [0.5, 0.6],
      'c',
    ],
    [
      'weights 3:1:1, draws 0.7 → b (3.5 of 5), then 0.2 of a,c → a (0.6 of 4): 2/3 < 1/1',
      { a: { weight: 3, active: 2 }, b: { active: 1 }, c: {} },
      [0.7, 0.2],
      'a',
    ],
    [
      'weights 3:1:1, draws 0.7 → b, then 0.9 of a,c → c (3.6 of 4): tie 1/1, keeps b',
      { a: { weight: 3, active: 2 }, b: { active: 1 }, c: { active: 1 } },
      [0.7, 0.9],
      'b',
    ],
  ])('%s', (_label, spec, draws, expected) => {
    const balancer = new RandomBalancer<Backend>({ random: scripted(...draws) });
    balancer.update(backends(spec));
    expect(balancer.pick(pickContext())?.id).toBe(expected);
  });

  it('never picks the single most loaded backend (two distinct choices)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.nat(50), { minLength: 2, maxLength: 10 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        (actives, seed) => {
          const list = actives.map((a, i) => {
            const b = makeBackend(`b${i}`);
            b.active = a;
            return b;
          });
          const balancer = new RandomBalancer<Backend>({ random: seededRandom(seed) });
          balancer.update(list);
          const max = Math.max(...actives);
          for (let i = 0; i < 50; i++) expect(balancer.pick(pickContext())?.active).not.toBe(max);
        },
      ),
      { seed: CONFORMANCE_SEED, numRuns: 200 },
    );
  });

  it('keeps long-lived connections close to even, unlike a single random choice', () => {
    /** Largest max − min of active connections over 5000 opens that never close. */
    const worstSpread = (list: readonly Backend[], choose: () => Backend): number => {
      let worst = 0;
      for (let i = 0; i < 5000; i++) {
        choose().active++;
        const actives = list.map((x) => x.active);
        worst = Math.max(worst, Math.max(...actives) - Math.min(...actives));
      }
      return worst;
    };
    const ten = () => Array.from({ length: 10 }, (_, i) => makeBackend(`b${i}`));
    const forBalancer = ten();
    const balancer = new RandomBalancer<Backend>({ random: seededRandom(CONFORMANCE_SEED) });
    balancer.update(forBalancer);
    const twoChoices = worstSpread(forBalancer, () => balancer.pick(pickContext()) as Backend);
    const forOne = ten();
    const random = seededRandom(CONFORMANCE_SEED);
    const oneChoice = worstSpread(
      forOne,
      () => forOne[Math.floor(random() * forOne.length)] as Backend,
    );
    expect(twoChoices).toBeLessThanOrEqual(8);
    expect(oneChoice).toBeGreaterThan(5 * twoChoices);
  });

  it('picks an untried backend on retries, even when draws keep landing on tried ones', () => {
    const list = backends({ a: { weight: 100 }, b: { weight: 100 }, c: {} });
    const [a, b] = list as [Backend, Backend];
    const balancer = new RandomBalancer<Backend>({ random: seededRandom(7) });
    balancer.update(list);
    for (let i = 0; i < 100; i++) expect(balancer.pick(pickContext([a, b]))?.id).toBe('c');
  });
});
