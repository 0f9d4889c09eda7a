import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FlapGuard } from './flap-guard.ts';

const SEED = 20240917;

function ids(...list: string[]): ReadonlySet<string> {
  return new Set(list);
}

function sameIds(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((id) => b.has(id));
}

function removedCount(current: ReadonlySet<string>, next: ReadonlySet<string>): number {
  return [...current].filter((id) => !next.has(id)).length;
}

/** Feeds answers the way DnsSource does: an admitted answer becomes the current set. */
class Driver {
  readonly guard: FlapGuard;
  current: ReadonlySet<string>;

  constructor(enabled: boolean, initial: ReadonlySet<string> = ids()) {
    this.guard = new FlapGuard(enabled);
    this.current = initial;
  }

  answer(...list: string[]): boolean {
    const next = ids(...list);
    const admitted = this.guard.admit(this.current, next);
    if (admitted) this.current = next;
    return admitted;
  }
}

/** Sequences of answers over a small universe, so repeats and big drops are common. */
const answersArb = fc
  .array(
    fc.oneof(
      fc.uniqueArray(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), { maxLength: 6 }),
      fc.constant<string[]>([]),
    ),
    { minLength: 1, maxLength: 20 },
  )
  .map((answers) => {
    // Repeat some answers back to back, as a real scale-down would.
    const out: ReadonlySet<string>[] = [];
    answers.forEach((a, i) => {
      out.push(ids(...a));
      if (i % 3 === 0) out.push(ids(...a));
    });
    return out;
  });

describe('FlapGuard', () => {
  it('admits every answer when off, emptying included', () => {
    const d = new Driver(false, ids('a', 'b', 'c', 'd'));
    expect(d.answer('a')).toBe(true);
    expect(d.answer()).toBe(true);
    expect(d.answer('x', 'y')).toBe(true);
    expect(d.guard.holding).toBe(false);
  });

  it('admits the first answer on an empty set, on or off', () => {
    for (const enabled of [true, false]) {
      expect(new FlapGuard(enabled).admit(ids(), ids('a', 'b'))).toBe(true);
      expect(new FlapGuard(enabled).admit(ids(), ids())).toBe(true);
    }
  });

  it('admits an answer that removes exactly half', () => {
    const d = new Driver(true, ids('a', 'b', 'c', 'd'));
    expect(d.answer('a', 'b')).toBe(true);
    expect(d.answer('a')).toBe(true);
    expect(d.guard.holding).toBe(false);
  });

  it('counts removals, not the size of the answer (additions do not offset them)', () => {
    const d = new Driver(true, ids('a', 'b', 'c', 'd'));
    expect(d.answer('a', 'b', 'e', 'f', 'g')).toBe(true); // 2 of 4 removed
    expect(d.answer('a', 'x', 'y', 'z', 'w', 'v')).toBe(false); // 4 of 5 removed
  });

  it('holds a drop of more than half until the next identical answer', () => {
    const d = new Driver(true, ids('a', 'b', 'c', 'd'));
    expect(d.answer('a')).toBe(false);
    expect(d.guard.holding).toBe(true);
    expect(d.current).toEqual(ids('a', 'b', 'c', 'd'));
    expect(d.answer('a')).toBe(true);
    expect(d.guard.holding).toBe(false);
    expect(d.current).toEqual(ids('a'));
  });

  it('holds a one-member set going away (1 of 1 is more than half)', () => {
    const d = new Driver(true, ids('a'));
    expect(d.answer('b')).toBe(false);
    expect(d.answer('b')).toBe(true);
  });

  it('confirms on the same ids whatever their order', () => {
    const guard = new FlapGuard(true);
    const current = ids('a', 'b', 'c', 'd', 'e');
    expect(guard.admit(current, ids('x', 'a'))).toBe(false);
    expect(guard.admit(current, ids('a', 'x'))).toBe(true);
  });

  it('replaces a held drop by a different answer, which then needs its own confirmation', () => {
    const d = new Driver(true, ids('a', 'b', 'c', 'd'));
    expect(d.answer('a')).toBe(false);
    expect(d.answer('b')).toBe(false); // different: now {b} is the one waiting
    expect(d.answer('a')).toBe(false); // {a} no longer confirms anything
    expect(d.answer('a')).toBe(true);
    expect(d.current).toEqual(ids('a'));
  });

  it('cancels the hold when the full set comes back', () => {
    const d = new Driver(true, ids('a', 'b', 'c', 'd'));
    expect(d.answer('a')).toBe(false);
    expect(d.answer('a', 'b', 'c', 'd')).toBe(true);
    expect(d.guard.holding).toBe(false);
    // The earlier drop is forgotten: it needs two answers again.
    expect(d.answer('a')).toBe(false);
    expect(d.answer('a')).toBe(true);
  });

  it('cancels the hold on any small change in between', () => {
    const d = new Driver(true, ids('a', 'b', 'c', 'd'));
    expect(d.answer()).toBe(false);
    expect(d.answer('a', 'b', 'c')).toBe(true);
    expect(d.guard.holding).toBe(false);
    expect(d.answer()).toBe(false);
  });

  it('needs two NXDOMAIN (empty) answers in a row to empty the set', () => {
    const d = new Driver(true, ids('a', 'b', 'c'));
    expect(d.answer()).toBe(false);
    expect(d.guard.holding).toBe(true);
    expect(d.current.size).toBe(3);
    expect(d.answer()).toBe(true);
    expect(d.current.size).toBe(0);
    expect(d.guard.holding).toBe(false);
    // Staying empty is no drop.
    expect(d.answer()).toBe(true);
  });

  it('off: admits every answer (property)', () => {
    fc.assert(
      fc.property(answersArb, (answers) => {
        const guard = new FlapGuard(false);
        let current: ReadonlySet<string> = ids();
        for (const next of answers) {
          expect(guard.admit(current, next)).toBe(true);
          expect(guard.holding).toBe(false);
          current = next;
        }
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('on: an admitted answer removes more than half only when the previous answer was identical (property)', () => {
    fc.assert(
      fc.property(answersArb, (answers) => {
        const guard = new FlapGuard(true);
        let current: ReadonlySet<string> = ids();
        let previous: ReadonlySet<string> | undefined;
        for (const next of answers) {
          const admitted = guard.admit(current, next);
          const bigDrop = removedCount(current, next) * 2 > current.size;
          if (!bigDrop) expect(admitted).toBe(true);
          if (admitted && bigDrop) {
            expect(previous !== undefined && sameIds(previous, next)).toBe(true);
          }
          if (!admitted) expect(guard.holding).toBe(true);
          if (admitted) current = next;
          // An answer given twice in a row is always in force after the second.
          if (previous !== undefined && sameIds(previous, next)) expect(current).toEqual(next);
          previous = next;
        }
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});
