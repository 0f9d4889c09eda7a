import { describe, expect, it } from 'vitest';
import { changedKeys, settingsEqual } from './settings-equal.ts';

describe('settingsEqual', () => {
  it('compares regexes by source and flags (JSON.stringify saw {} for both)', () => {
    expect(settingsEqual(/^a/, /^a/)).toBe(true);
    expect(settingsEqual(/^a/, /^b/)).toBe(false);
    expect(settingsEqual(/^a/, /^a/i)).toBe(false);
    expect(settingsEqual({ kind: 'regex', re: /x/ }, { kind: 'regex', re: /y/ })).toBe(false);
  });

  it('compares buffers by bytes, and never equal to a look-alike record', () => {
    expect(settingsEqual(Buffer.from('PING'), Buffer.from('PING'))).toBe(true);
    expect(settingsEqual(Buffer.from('PING'), Buffer.from('PONG'))).toBe(false);
    expect(settingsEqual(Buffer.from('A'), { type: 'Buffer', data: [65] })).toBe(false);
  });

  it('compares arrays in order, records by keys, and null apart from a value', () => {
    expect(settingsEqual([{ host: '::', port: 1 }], [{ host: '::', port: 1 }])).toBe(true);
    expect(settingsEqual([1, 2], [2, 1])).toBe(false);
    expect(settingsEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(settingsEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(settingsEqual(null, 0)).toBe(false);
    expect(settingsEqual(Number.NaN, Number.NaN)).toBe(true);
  });

  it('treats any other object as changed unless it is the same one', () => {
    class Opaque {
      readonly v: number;
      constructor(v: number) {
        this.v = v;
      }
    }
    const o = new Opaque(1);
    expect(settingsEqual(o, o)).toBe(true);
    expect(settingsEqual(new Opaque(1), new Opaque(1))).toBe(false);
  });

  it('lists the changed keys', () => {
    expect(changedKeys({ a: /x/, b: 1, c: [1] }, { a: /y/, b: 1, c: [1] })).toEqual(['a']);
  });
});
