import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CONFORMANCE_SEED,
  makeBackend,
  pickContext,
  pickIds,
  runBalancerConformance,
} from './conformance.case.ts';
import { RoundRobinBalancer } from './round-robin.ts';

runBalancerConformance({ name: 'round-robin', create: () => new RoundRobinBalancer() });

function balancerWith(weights: Record<string, number>): RoundRobinBalancer {
  const balancer = new RoundRobinBalancer();
  balancer.update(Object.entries(weights).map(([id, w]) => makeBackend(id, w)));
  return balancer;
}

function longestRun(ids: readonly string[]): number {
  let longest = 0;
  let run = 0;
  ids.forEach((id, i) => {
    run = i > 0 && ids[i - 1] === id ? run + 1 : 1;
    longest = Math.max(longest, run);
  });
  return longest;
}

describe('RoundRobinBalancer', () => {
  it('names its strategy', () => {
    expect(new RoundRobinBalancer().strategy).toBe('round-robin');
  });

  it.each([
    [{ a: 5, b: 1, c: 1 }, 'a a b a c a a'],
    [{ a: 1, b: 1, c: 1 }, 'a b c'],
    [{ a: 2, b: 1 }, 'a b a'],
    [{ a: 1, b: 2 }, 'b a b'],
    [{ a: 3, b: 2 }, 'a b a b a'],
    [{ a: 4, b: 2, c: 1 }, 'a b a c a b a'],
    [{ a: 1 }, 'a'],
  ])('weights %j give the smooth cycle %s, repeated', (weights, cycle) => {
    const balancer = balancerWith(weights);
    const expected = cycle.split(' ');
    expect(pickIds(balancer, expected.length * 3)).toEqual([...expected, ...expected, ...expected]);
  });

  it('never sends five in a row to the heavy backend of 5:1:1', () => {
    const picks = pickIds(balancerWith({ a: 5, b: 1, c: 1 }), 700);
    // a a b a c a a: at most the two a's ending one cycle and the two starting the next.
    expect(longestRun(picks)).toBe(4);
    expect(picks.filter((id) => id === 'a')).toHaveLength(500);
  });

  it('gives every backend exactly its weight in each cycle of sum-of-weights picks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 8 }),
        (weights) => {
          const balancer = balancerWith(Object.fromEntries(weights.map((w, i) => [`b${i}`, w])));
          const total = weights.reduce((s, w) => s + w, 0);
          for (let cycle = 0; cycle < 2; cycle++) {
            const picks = pickIds(balancer, total);
            weights.forEach((w, i) => expect(picks.filter((id) => id === `b${i}`)).toHaveLength(w));
          }
        },
      ),
      { seed: CONFORMANCE_SEED, numRuns: 200 },
    );
  });

  it('keeps each running score by id, so a reordered set continues the same cycle', () => {
    const [a, b, c] = [makeBackend('a', 5), makeBackend('b', 1), makeBackend('c', 1)];
    const balancer = new RoundRobinBalancer();
    balancer.update([a, b, c]);
    expect(pickIds(balancer, 3)).toEqual(['a', 'a', 'b']);
    balancer.update([c, b, a]);
    expect(pickIds(balancer, 4)).toEqual(['a', 'c', 'a', 'a']);
  });

  it('starts a new backend from zero without resetting the others', () => {
    const [a, b, c] = [makeBackend('a', 5), makeBackend('b', 1), makeBackend('c', 1)];
    const balancer = new RoundRobinBalancer();
    balancer.update([a, b]);
    // a=5,b=1: a a a b a a; after three picks the scores are a=-3, b=3.
    expect(pickIds(balancer, 3)).toEqual(['a', 'a', 'a']);
    balancer.update([a, b, c]);
    // Scores a=-3, b=3, c=0, total 7: b first, then a, a, c, ...
    expect(pickIds(balancer, 4)).toEqual(['b', 'a', 'a', 'c']);
  });

  it('spreads retries over the untried backends by weight', () => {
    const [a, b, c] = [makeBackend('a', 5), makeBackend('b', 2), makeBackend('c', 1)];
    const balancer = new RoundRobinBalancer();
    balancer.update([a, b, c]);
    const picks = Array.from({ length: 30 }, () => balancer.pick(pickContext([a]))?.id);
    expect(picks.filter((id) => id === 'b')).toHaveLength(20);
    expect(picks.filter((id) => id === 'c')).toHaveLength(10);
  });
});
