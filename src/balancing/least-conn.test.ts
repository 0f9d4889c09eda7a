import { describe, expect, it } from 'vitest';
import type { Backend } from '../backends/backend.ts';
import { makeBackend, pickContext, pickIds, runBalancerConformance } from './conformance.case.ts';
import { LeastConnBalancer } from './least-conn.ts';

runBalancerConformance({ name: 'least-conn', create: () => new LeastConnBalancer() });

function backends(spec: Record<string, { weight?: number; active?: number }>): Backend[] {
  return Object.entries(spec).map(([id, s]) => {
    const b = makeBackend(id, s.weight ?? 1);
    b.active = s.active ?? 0;
    return b;
  });
}

/** Pick `n` times, opening a connection on each pick (nothing closes). */
function pickAndOpen(balancer: LeastConnBalancer, n: number): string[] {
  return Array.from({ length: n }, () => {
    const b = balancer.pick(pickContext());
    if (b === undefined) return '-';
    b.active++;
    return b.id;
  });
}

describe('LeastConnBalancer', () => {
  it('names its strategy', () => {
    expect(new LeastConnBalancer().strategy).toBe('least-conn');
  });

  it('rotates through idle backends: a b c a b c', () => {
    const balancer = new LeastConnBalancer();
    balancer.update(backends({ a: {}, b: {}, c: {} }));
    expect(pickIds(balancer, 6)).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('rotates as connections open and none close: a b c a b c', () => {
    const balancer = new LeastConnBalancer();
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
    const balancer = new LeastConnBalancer();
    balancer.update(backends(spec));
    expect(balancer.pick(pickContext())?.id).toBe(expected);
  });

  it('fills up by weight: 2:1 gets two connections for each one', () => {
    const balancer = new LeastConnBalancer();
    balancer.update(backends({ a: { weight: 2 }, b: { weight: 1 } }));
    const picks = pickAndOpen(balancer, 30);
    expect(picks.filter((id) => id === 'a')).toHaveLength(20);
    expect(picks.filter((id) => id === 'b')).toHaveLength(10);
  });

  it('breaks ties starting after the previous pick', () => {
    const list = backends({ a: { active: 1 }, b: {}, c: { active: 1 }, d: {} });
    const balancer = new LeastConnBalancer();
    balancer.update(list);
    expect(pickIds(balancer, 4)).toEqual(['b', 'd', 'b', 'd']);
  });

  it('picks the least loaded of the untried backends', () => {
    const list = backends({ a: {}, b: { active: 5 }, c: { active: 2 } });
    const [a] = list;
    const balancer = new LeastConnBalancer();
    balancer.update(list);
    expect(balancer.pick(pickContext(a === undefined ? [] : [a]))?.id).toBe('c');
  });

  it('resumes the rotation at the backend that was next when the set shrinks', () => {
    const list = backends({ a: {}, b: {}, c: {}, d: {} });
    const balancer = new LeastConnBalancer();
    balancer.update(list);
    expect(pickIds(balancer, 2)).toEqual(['a', 'b']);
    balancer.update(list.slice(1));
    expect(pickIds(balancer, 4)).toEqual(['c', 'd', 'b', 'c']);
  });
});
