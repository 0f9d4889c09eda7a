import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONFORMANCE_SEED } from '../../test/kit/balancer-conformance.ts';
import { HashRing, RING_POINTS } from './hash-ring.ts';

const members = (spec: Record<string, number>) =>
  Object.entries(spec).map(([id, weight]) => ({ id, weight }));

describe('HashRing', () => {
  it('gives the heaviest member RING_POINTS points and the others points in proportion', () => {
    const ring = HashRing.build(members({ a: 4, b: 2, c: 1, d: 0.001 }));
    const count = (owner: number) => ring.owners.filter((o) => o === owner).length;
    expect(ring.members.map((m) => m.id)).toEqual(['a', 'b', 'c', 'd']);
    expect([0, 1, 2, 3].map(count)).toEqual([RING_POINTS, RING_POINTS / 2, RING_POINTS / 4, 1]);
  });

  it('keeps positions sorted and the same whatever the input order', () => {
    const one = HashRing.build(members({ x: 1, y: 3, z: 2 }));
    const other = HashRing.build(members({ z: 2, x: 1, y: 3 }));
    expect(other.positions).toEqual(one.positions);
    expect(other.owners).toEqual(one.owners);
    for (let i = 1; i < one.positions.length; i++) {
      expect(one.positions[i - 1]).toBeLessThanOrEqual(one.positions[i] as number);
    }
  });

  it('finds the first point at or after a hash, wrapping past the last', () => {
    const ring = HashRing.build(members({ a: 1 }));
    const first = ring.positions[0] as number;
    const last = ring.positions[ring.positions.length - 1] as number;
    expect(ring.find(0)).toBe(0);
    expect(ring.find(first)).toBe(0);
    expect(ring.find(first + 1)).toBe(1);
    expect(ring.find(last)).toBe(ring.positions.length - 1);
    expect(ring.find(last + 1)).toBe(0);
  });

  it('keeps a member’s points when others join or leave (a prefix of a fixed sequence)', () => {
    const pointsOf = (ring: HashRing, id: string) => {
      const owner = ring.members.findIndex((m) => m.id === id);
      return [...ring.positions.filter((_, i) => ring.owners[i] === owner)];
    };
    const small = HashRing.build(members({ a: 1, b: 1 }));
    const big = HashRing.build(members({ a: 1, b: 1, c: 1 }));
    expect(pointsOf(big, 'a')).toEqual(pointsOf(small, 'a'));
    const light = HashRing.build(members({ a: 1, b: 2 }));
    expect(pointsOf(small, 'a')).toEqual(expect.arrayContaining(pointsOf(light, 'a')));
  });

  it('is empty without members', () => {
    expect(HashRing.build([]).positions).toHaveLength(0);
  });

  it('builds the same ring from the previous one as from scratch, through any set changes', () => {
    const setArb = fc.uniqueArray(
      fc.record({
        id: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'),
        weight: fc.integer({ min: 1, max: 3 }),
      }),
      { selector: (m) => m.id, maxLength: 10 },
    );
    fc.assert(
      fc.property(fc.array(setArb, { minLength: 1, maxLength: 8 }), (sets) => {
        let ring = HashRing.build([]);
        for (const set of sets) {
          ring = HashRing.build(set, ring);
          const scratch = HashRing.build(set);
          expect(ring.members).toEqual(scratch.members);
          expect(ring.positions).toEqual(scratch.positions);
          expect(ring.owners).toEqual(scratch.owners);
        }
      }),
      { seed: CONFORMANCE_SEED, numRuns: 100 },
    );
  });

  it('sorts large rings (radix) exactly as small ones (comparison sort)', () => {
    const big = Array.from({ length: 40 }, (_, i) => ({ id: `pod-${i}`, weight: 1 + (i % 3) }));
    const ring = HashRing.build(big);
    expect(ring.positions.length).toBeGreaterThan(32_768);
    const order = [...ring.positions.keys()].sort(
      (x, y) =>
        (ring.positions[x] as number) - (ring.positions[y] as number) ||
        (ring.owners[x] as number) - (ring.owners[y] as number),
    );
    expect(order).toEqual([...ring.positions.keys()]);
    // Incremental from a smaller ring gives the same points.
    const grown = HashRing.build(big, HashRing.build(big.slice(0, 38)));
    expect(grown.positions).toEqual(ring.positions);
    expect(grown.owners).toEqual(ring.owners);
  });
});
