import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONFORMANCE_SEED } from '../../test/kit/balancer-conformance.ts';
import { IndexedHeap } from './indexed-heap.ts';

interface Item {
  key: number;
  readonly id: number;
  heapIndex: number;
}

const less = (a: Item, b: Item) => a.key < b.key || (a.key === b.key && a.id < b.id);

type Op =
  | { readonly op: 'push'; readonly key: number }
  | { readonly op: 'pop' }
  | { readonly op: 'update'; readonly at: number; readonly key: number }
  | { readonly op: 'remove'; readonly at: number }
  | { readonly op: 'reset'; readonly keep: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('push' as const), key: fc.integer({ min: 0, max: 20 }) }),
  fc.record({ op: fc.constant('pop' as const) }),
  fc.record({
    op: fc.constant('update' as const),
    at: fc.nat(),
    key: fc.integer({ min: 0, max: 20 }),
  }),
  fc.record({ op: fc.constant('remove' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('reset' as const), keep: fc.nat() }),
);

describe('IndexedHeap', () => {
  it('always yields the least item, through pushes, pops, key updates, removals and resets', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 200 }), (ops) => {
        const heap = new IndexedHeap<Item>(less);
        let inside: Item[] = [];
        let nextId = 0;
        const least = () => [...inside].sort((a, b) => (less(a, b) ? -1 : 1))[0];
        for (const o of ops) {
          if (o.op === 'push') {
            const item = { key: o.key, id: nextId++, heapIndex: -1 };
            heap.push(item);
            inside.push(item);
          } else if (o.op === 'pop') {
            const expected = least();
            expect(heap.pop()).toBe(expected);
            inside = inside.filter((x) => x !== expected);
          } else if (inside.length > 0 && o.op === 'update') {
            const item = inside[o.at % inside.length] as Item;
            item.key = o.key;
            heap.update(item);
          } else if (inside.length > 0 && o.op === 'remove') {
            const item = inside[o.at % inside.length] as Item;
            heap.remove(item);
            heap.remove(item);
            expect(heap.has(item)).toBe(false);
            inside = inside.filter((x) => x !== item);
          } else if (o.op === 'reset') {
            inside = inside.filter((_, i) => (o.keep >> i) & 1);
            heap.reset(inside);
          }
          expect(heap.size).toBe(inside.length);
          expect(heap.peek()).toBe(least());
          for (const item of inside) expect(heap.has(item)).toBe(true);
        }
      }),
      { seed: CONFORMANCE_SEED, numRuns: 300 },
    );
  });
});
