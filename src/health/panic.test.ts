import { describe, expect, it } from 'vitest';
import { usableOrAll } from './panic.ts';

describe('usableOrAll', () => {
  const down = new Set(['b', 'd']);
  const usable = (id: string) => !down.has(id);

  it('keeps the usable candidates, in order', () => {
    expect(usableOrAll(['a', 'b', 'c', 'd'], usable)).toEqual({
      selected: ['a', 'c'],
      panic: false,
    });
    expect(usableOrAll(['b', 'c'], usable)).toEqual({ selected: ['c'], panic: false });
  });

  it('returns the same array when every candidate is usable', () => {
    const all = ['a', 'c'];
    expect(usableOrAll(all, usable).selected).toBe(all);
  });

  it('panics to every candidate when none is usable', () => {
    const all = ['b', 'd'];
    const r = usableOrAll(all, usable);
    expect(r.panic).toBe(true);
    expect(r.selected).toBe(all);
  });

  it('is no panic with no candidates at all', () => {
    expect(usableOrAll([], usable)).toEqual({ selected: [], panic: false });
  });
});
