import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeBackend, pickContext } from '../../test/kit/backends.ts';
import {
  CONFORMANCE_SEED,
  pickIds,
  runBalancerConformance,
} from '../../test/kit/balancer-conformance.ts';
import { RoundRobinBalancer } from './round-robin.ts';
import type { Backend } from '../backends/backend.ts';

runBalancerConformance({ name: 'round-robin', create: () => new RoundRobinBalancer<Backend>() });

function balancerWith(weights: Record<string, number>): RoundRobinBalancer<Backend> {
  const balancer = new RoundRobinBalancer<Backend>();
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

const weightsArb = fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 8 });

describe('RoundRobinBalancer', () => {
  it('names its strategy', () => {
    expect(new RoundRobinBalancer<Backend>().strategy).toBe('round-robin');
  });

  it.each([
    [{ a: 5, b: 1, c: 1 }, 'a b a a c a a'],
    [{ a: 1, b: 1, c: 1 }, 'a b c'],
    [{ a: 2, b: 1 }, 'a b a'],
    [{ a: 1, b: 2 }, 'b a b'],
    [{ a: 3, b: 2 }, 'a b a b a'],
    [{ a: 4, b: 2, c: 1 }, 'a b a c a b a'],
    [{ a: 3, b: 3, c: 1 }, 'a b c a b a b'],
    [{ a: 5, b: 1 }, 'a b a a a a'],
    [{ a: 1 }, 'a'],
  ])('weights %j give the smooth cycle %s, repeated', (weights, cycle) => {
    const balancer = balancerWith(weights);
    const expected = cycle.split(' ');
    expect(pickIds(balancer, expected.length * 3)).toEqual([...expected, ...expected, ...expected]);
  });

  it('never sends five in a row to the heavy backend of 5:1:1', () => {
    const picks = pickIds(balancerWith({ a: 5, b: 1, c: 1 }), 700);
    // a b a a c a a: the two a's ending one cycle and the one starting the next.
    expect(longestRun(picks)).toBe(3);
    expect(picks.filter((id) => id === 'a')).toHaveLength(500);
  });

  it('gives every backend exactly its weight in each cycle of sum-of-weights picks', () => {
    fc.assert(
      fc.property(weightsArb, (weights) => {
        const balancer = balancerWith(Object.fromEntries(weights.map((w, i) => [`b${i}`, w])));
        const total = weights.reduce((s, w) => s + w, 0);
        for (let cycle = 0; cycle < 2; cycle++) {
          const picks = pickIds(balancer, total);
          weights.forEach((w, i) => expect(picks.filter((id) => id === `b${i}`)).toHaveLength(w));
        }
      }),
      { seed: CONFORMANCE_SEED, numRuns: 200 },
    );
  });

  it('keeps every backend within one pick of its exact share after every pick', () => {
    fc.assert(
      fc.property(weightsArb, (weights) => {
        const balancer = balancerWith(Object.fromEntries(weights.map((w, i) => [`b${i}`, w])));
        const total = weights.reduce((s, w) => s + w, 0);
        const counts = weights.map(() => 0);
        let worst = 0;
        for (let t = 1; t <= 3 * total; t++) {
          const i = Number(balancer.pick(pickContext())?.id.slice(1));
          counts[i] = (counts[i] ?? 0) + 1;
          weights.forEach((w, k) => {
            worst = Math.max(worst, Math.abs((counts[k] ?? 0) - (t * w) / total));
          });
        }
        expect(worst).toBeLessThan(1);
      }),
      { seed: CONFORMANCE_SEED, numRuns: 200 },
    );
  });

  it('continues the same cycle when the set is handed over in another order', () => {
    const [a, b, c] = [makeBackend('a', 5), makeBackend('b', 1), makeBackend('c', 1)];
    const balancer = new RoundRobinBalancer<Backend>();
    balancer.update([a, b, c]);
    expect(pickIds(balancer, 3)).toEqual(['a', 'b', 'a']);
    balancer.update([c, b, a]);
    expect(pickIds(balancer, 4)).toEqual(['a', 'c', 'a', 'a']);
  });

  it('starts a new backend eligible at once, without resetting the others', () => {
    const [a, b, c] = [makeBackend('a', 5), makeBackend('b', 1), makeBackend('c', 1)];
    const balancer = new RoundRobinBalancer<Backend>();
    balancer.update([a, b]);
    expect(pickIds(balancer, 3)).toEqual(['a', 'b', 'a']);
    balancer.update([a, b, c]);
    // a is behind its share (2 of 3 picks against 2.5) and catches up first;
    // b already had its pick of the cycle; c gets its first within the cycle.
    expect(pickIds(balancer, 7)).toEqual(['a', 'a', 'a', 'c', 'a', 'a', 'a']);
    expect(pickIds(balancer, 14).filter((id) => id === 'c')).toHaveLength(2);
  });

  it('follows a weight change from the next pick', () => {
    const balancer = new RoundRobinBalancer<Backend>();
    balancer.update([makeBackend('a', 1), makeBackend('b', 1)]);
    expect(pickIds(balancer, 4)).toEqual(['a', 'b', 'a', 'b']);
    balancer.update([makeBackend('a', 3), makeBackend('b', 1)]);
    const picks = pickIds(balancer, 40);
    expect(picks.filter((id) => id === 'a')).toHaveLength(30);
  });

  it('spreads retries over the untried backends by weight', () => {
    const [a, b, c] = [makeBackend('a', 5), makeBackend('b', 2), makeBackend('c', 1)];
    const balancer = new RoundRobinBalancer<Backend>();
    balancer.update([a, b, c]);
    const picks = Array.from({ length: 30 }, () => balancer.pick(pickContext([a]))?.id);
    expect(picks.filter((id) => id === 'b')).toHaveLength(20);
    expect(picks.filter((id) => id === 'c')).toHaveLength(10);
  });

  it('stays exact over millions of picks (virtual time is shifted back, not overflowed)', () => {
    const balancer = balancerWith({ a: 999, b: 1000, c: 1 });
    for (let i = 0; i < 2_000_000; i++) balancer.pick(pickContext());
    // 2,000,000 picks = exactly 1000 cycles of 2000: the next cycle is a fresh one.
    const picks = pickIds(balancer, 2000);
    expect(picks.filter((id) => id === 'c')).toHaveLength(1);
    expect(picks.filter((id) => id === 'a')).toHaveLength(999);
  });
});
