import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../backends/backend.ts';
import { makeBackend, pickContext } from '../../test/kit/backends.ts';
import {
  CONFORMANCE_SEED,
  pickIds,
  runBalancerConformance,
} from '../../test/kit/balancer-conformance.ts';
import { seededRandom } from '../../test/kit/random.ts';
import { LeastConnBalancer } from './least-conn.ts';

runBalancerConformance({ name: 'least-conn', create: () => new LeastConnBalancer<Backend>() });

function backends(spec: Record<string, { weight?: number; active?: number }>): Backend[] {
  return Object.entries(spec).map(([id, s]) => {
    const b = makeBackend(id, s.weight ?? 1);
    b.active = s.active ?? 0;
    return b;
  });
}

/** Pick `n` times, opening a connection on each pick (nothing closes). */
function pickAndOpen(balancer: LeastConnBalancer<Backend>, n: number): string[] {
  return Array.from({ length: n }, () => {
    const b = balancer.pick(pickContext());
    if (b === undefined) return '-';
    b.active++;
    return b.id;
  });
}

describe('LeastConnBalancer', () => {
  it('names its strategy', () => {
    expect(new LeastConnBalancer<Backend>().strategy).toBe('least-conn');
  });

  it('rotates through idle backends: a b c a b c', () => {
    const balancer = new LeastConnBalancer<Backend>();
    balancer.update(backends({ a: {}, b: {}, c: {} }));
    expect(pickIds(balancer, 6)).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('rotates as connections open and none close: a b c a b c', () => {
    const balancer = new LeastConnBalancer<Backend>();
    balancer.update(backends({ a: {}, b: {}, c: {} }));
    expect(pickAndOpen(balancer, 6)).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it.each([
    [{ a: { active: 3 }, b: { active: 1 }, c: { active: 2 } }, 'b'],
    [{ a: { active: 2, weight: 3 }, b: { active: 1 } }, 'a'],
    [{ a: { active: 4, weight: 3 }, b: { active: 1 } }, 'b'],
    [{ a: { active: 3, weight: 3 }, b: { active: 1 } }, 'a'],
    [{ a: { active: 10, weight: 10 }, b: { active: 2, weight: 1 } }, 'a'],
    [{ a: { active: 1, weight: 1000 }, b: { active: 0, weight: 1 } }, 'b'],
  ])('picks the lowest active/weight in %j → %s', (spec, expected) => {
    const balancer = new LeastConnBalancer<Backend>();
    balancer.update(backends(spec));
    expect(balancer.pick(pickContext())?.id).toBe(expected);
  });

  it('fills up by weight: 2:1 gets two connections for each one', () => {
    const balancer = new LeastConnBalancer<Backend>();
    balancer.update(backends({ a: { weight: 2 }, b: { weight: 1 } }));
    const picks = pickAndOpen(balancer, 30);
    expect(picks.filter((id) => id === 'a')).toHaveLength(20);
    expect(picks.filter((id) => id === 'b')).toHaveLength(10);
  });

  it('breaks ties starting after the previous pick', () => {
    const list = backends({ a: { active: 1 }, b: {}, c: { active: 1 }, d: {} });
    const balancer = new LeastConnBalancer<Backend>();
    balancer.update(list);
    expect(pickIds(balancer, 4)).toEqual(['b', 'd', 'b', 'd']);
  });

  it('picks the least loaded of the untried backends', () => {
    const list = backends({ a: {}, b: { active: 5 }, c: { active: 2 } });
    const [a] = list;
    const balancer = new LeastConnBalancer<Backend>();
    balancer.update(list);
    expect(balancer.pick(pickContext(a === undefined ? [] : [a]))?.id).toBe('c');
  });

  it('resumes the rotation at the backend that was next when the set shrinks', () => {
    const list = backends({ a: {}, b: {}, c: {}, d: {} });
    const balancer = new LeastConnBalancer<Backend>();
    balancer.update(list);
    expect(pickIds(balancer, 2)).toEqual(['a', 'b']);
    balancer.update(list.slice(1));
    expect(pickIds(balancer, 4)).toEqual(['c', 'd', 'b', 'c']);
  });

  it.each([
    [{ a: 5, b: 1 }, 'a a a a b a'],
    [{ a: 2, b: 1, c: 1 }, 'a b c a'],
    [{ a: 1, b: 3 }, 'b b a b'],
  ])('breaks ties between idle backends by weighted round-robin: %j → %s', (weights, cycle) => {
    // Connections that never overlap: every backend is idle at every pick.
    const balancer = new LeastConnBalancer<Backend>();
    balancer.update(Object.entries(weights).map(([id, w]) => makeBackend(id, w)));
    const expected = cycle.split(' ');
    expect(pickIds(balancer, expected.length * 3)).toEqual([...expected, ...expected, ...expected]);
  });

  it('sends the next connection to the backend where one just closed', () => {
    const list = backends({ a: {}, b: {}, c: {} });
    const balancer = new LeastConnBalancer<Backend>();
    balancer.update(list);
    expect(pickAndOpen(balancer, 6)).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    const [, b] = list as [Backend, Backend, Backend];
    b.active--;
    balancer.onClose(b);
    expect(pickAndOpen(balancer, 1)).toEqual(['b']);
  });

  it('ignores closes of backends that are no longer candidates', () => {
    const list = backends({ a: { active: 2 }, b: { active: 2 } });
    const gone = makeBackend('gone');
    const balancer = new LeastConnBalancer<Backend>();
    balancer.update(list);
    balancer.onClose(gone);
    // A new Backend object with a candidate's id is not that candidate.
    const impostor = makeBackend('a');
    balancer.onClose(impostor);
    expect(pickIds(balancer, 2)).toEqual(['a', 'b']);
  });

  it('gives a backend that was busy one tie, not a burst, when it becomes idle again', () => {
    const list = backends({ a: { active: 50 }, b: {}, c: {} });
    const [a] = list as [Backend];
    const balancer = new LeastConnBalancer<Backend>();
    balancer.update(list);
    // b and c take turns for a while (connections open and close at once).
    expect(pickIds(balancer, 40)).toEqual(Array.from({ length: 20 }, () => ['b', 'c']).flat());
    a.active = 0;
    balancer.onClose(a);
    expect(pickIds(balancer, 6)).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('always picks a backend with the lowest active/weight (random loads and closes)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        (weights, seed) => {
          const list = weights.map((w, i) => makeBackend(`b${i}`, w));
          const balancer = new LeastConnBalancer<Backend>();
          balancer.update(list);
          const random = seededRandom(seed);
          for (let step = 0; step < 200; step++) {
            if (random() < 0.4) {
              const open = list.filter((b) => b.active > 0);
              const closing = open[Math.floor(random() * open.length)];
              if (closing !== undefined) {
                closing.active--;
                balancer.onClose(closing);
              }
              continue;
            }
            const picked = balancer.pick(pickContext()) as Backend;
            const load = (b: Backend) => b.active / b.weight;
            expect(load(picked)).toBe(Math.min(...list.map(load)));
            picked.active++;
          }
        },
      ),
      { seed: CONFORMANCE_SEED, numRuns: 200 },
    );
  });

  it('keeps rotating exactly over millions of picks (turns are shifted back)', () => {
    const balancer = new LeastConnBalancer<Backend>();
    balancer.update([makeBackend('a', 5), makeBackend('b', 1)]);
    for (let i = 0; i < 3_000_000; i++) balancer.pick(pickContext());
    const picks = pickIds(balancer, 60);
    expect(picks.filter((id) => id === 'b')).toHaveLength(10);
  });
});
