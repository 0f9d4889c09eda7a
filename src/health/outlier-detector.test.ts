import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OutlierDetector, type OutlierDetectorOptions } from './outlier-detector.ts';

const SEED = 20_240_708;

function setup(over: Partial<OutlierDetectorOptions> = {}, total = 10) {
  const clock = { now: 0, total };
  const detector = new OutlierDetector({
    ejectAfter: 3,
    maxEjectionPercent: 50,
    totalBackends: () => clock.total,
    clock: { nowMs: () => clock.now, wallMs: () => clock.now },
    ...over,
  });
  /** Fail `id` n times at the current time; returns what each call returned. */
  const fail = (id: string, n: number): boolean[] =>
    Array.from({ length: n }, () => detector.connectFailed(id));
  return { clock, detector, fail };
}

describe('OutlierDetector', () => {
  it('ejects after `ejectAfter` consecutive failures, for the base time', () => {
    const { clock, detector, fail } = setup();
    expect(fail('a', 2)).toEqual([false, false]);
    expect(detector.isEjected('a')).toBe(false);
    expect(detector.consecutiveFailures('a')).toBe(2);
    expect(fail('a', 1)).toEqual([true]);
    expect(detector.isEjected('a')).toBe(true);
    expect(detector.ejectedUntil('a')).toBe(10_000);
    expect(detector.ejectionCount('a')).toBe(1);
    expect(detector.consecutiveFailures('a')).toBe(0);
    clock.now = 9_999;
    expect(detector.isEjected('a')).toBe(true);
    clock.now = 10_000;
    expect(detector.isEjected('a')).toBe(false);
    expect(detector.ejectedUntil('a')).toBeUndefined();
    expect(detector.isEjected('a', 5_000)).toBe(true);
  });

  it('resets the count on a success', () => {
    const { detector, fail } = setup();
    fail('a', 2);
    detector.connectSucceeded('a');
    expect(detector.consecutiveFailures('a')).toBe(0);
    expect(fail('a', 2)).toEqual([false, false]);
    expect(detector.isEjected('a')).toBe(false);
    expect(fail('a', 1)).toEqual([true]);
    detector.connectSucceeded('unknown');
    expect(detector.consecutiveFailures('unknown')).toBe(0);
  });

  it('doubles the ejection time per repeat, up to the 5 minute cap', () => {
    const { clock, detector, fail } = setup();
    const lengths: number[] = [];
    for (let i = 0; i < 8; i++) {
      expect(fail('a', 3)).toEqual([false, false, true]);
      const until = detector.ejectedUntil('a') ?? Number.NaN;
      lengths.push(until - clock.now);
      clock.now = until; // fails again the moment it is back
    }
    expect(lengths).toEqual([10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
    expect(detector.ejectionCount('a')).toBe(8);
  });

  it('keeps the multiplier after a success and lets it decay one level per base time spent in', () => {
    const { clock, detector, fail } = setup();
    for (let i = 0; i < 3; i++) {
      fail('a', 3);
      clock.now = detector.ejectedUntil('a') ?? Number.NaN;
    }
    // Three ejections in a row (10 s, 20 s, 40 s): back at 70 s.
    expect(clock.now).toBe(70_000);
    expect(detector.ejectionLevel('a')).toBe(3);
    detector.connectSucceeded('a');
    expect(detector.ejectionLevel('a')).toBe(3);
    clock.now += 19_999;
    expect(detector.ejectionLevel('a')).toBe(2);
    clock.now += 1;
    expect(detector.ejectionLevel('a')).toBe(1);
    fail('a', 3);
    expect((detector.ejectedUntil('a') ?? 0) - clock.now).toBe(20_000);
    // Long enough in, it is forgiven entirely.
    clock.now = (detector.ejectedUntil('a') ?? 0) + 60_000;
    expect(detector.ejectionLevel('a')).toBe(0);
    fail('a', 3);
    expect((detector.ejectedUntil('a') ?? 0) - clock.now).toBe(10_000);
  });

  it('ignores failures while ejected and needs fresh ones once back', () => {
    const { clock, detector, fail } = setup();
    fail('a', 3);
    expect(fail('a', 5)).toEqual([false, false, false, false, false]);
    expect(detector.consecutiveFailures('a')).toBe(0);
    expect(detector.ejectedUntil('a')).toBe(10_000);
    clock.now = 10_000;
    expect(fail('a', 3)).toEqual([false, false, true]);
  });

  it('never ejects more than maxEjectionPercent of the backends, and retries a refused one', () => {
    const { clock, detector, fail } = setup({}, 4);
    expect(fail('a', 3)).toEqual([false, false, true]);
    expect(fail('b', 3)).toEqual([false, false, true]);
    // A third of four would be 75 %.
    expect(fail('c', 3)).toEqual([false, false, false]);
    expect(detector.refusedEjections).toBe(1);
    expect(detector.consecutiveFailures('c')).toBe(3);
    expect(detector.ejectedIds().sort()).toEqual(['a', 'b']);
    clock.now = 10_000; // a and b are back
    expect(fail('c', 1)).toEqual([true]);
  });

  it('reads the total at each decision', () => {
    const { clock, fail } = setup({}, 4);
    fail('a', 3);
    fail('b', 3);
    clock.total = 6;
    expect(fail('c', 3)).toEqual([false, false, true]);
    clock.total = 0;
    expect(fail('d', 3)).toEqual([false, false, false]);
  });

  it('never ejects the only backend at 50 %, nor any at 0 %; ejects all at 100 %', () => {
    expect(setup({}, 1).fail('a', 3)).toEqual([false, false, false]);
    expect(setup({ maxEjectionPercent: 0 }, 10).fail('a', 3)).toEqual([false, false, false]);
    const all = setup({ maxEjectionPercent: 100 }, 2);
    expect([...all.fail('a', 3), ...all.fail('b', 3)]).toEqual([
      false,
      false,
      true,
      false,
      false,
      true,
    ]);
  });

  it('never ejects with ejectAfter 0 (passive ejection off)', () => {
    const { detector, fail } = setup({ ejectAfter: 0 });
    expect(fail('a', 100).some(Boolean)).toBe(false);
    expect(detector.consecutiveFailures('a')).toBe(100);
  });

  it('forgets a removed id, freeing its share', () => {
    const { detector, fail } = setup({}, 2);
    fail('a', 3);
    expect(fail('b', 3)).toEqual([false, false, false]);
    detector.remove('a');
    expect(detector.isEjected('a')).toBe(false);
    expect(detector.ejectionCount('a')).toBe(0);
    expect(fail('b', 1)).toEqual([true]);
  });

  it('reports when the next ejection ends', () => {
    const { clock, detector, fail } = setup();
    expect(detector.nextExpiryMs()).toBeUndefined();
    fail('a', 3);
    clock.now = 4_000;
    fail('b', 3);
    fail('b', 3);
    expect(detector.nextExpiryMs()).toBe(10_000);
    clock.now = 10_000;
    expect(detector.nextExpiryMs()).toBe(14_000);
    clock.now = 14_000;
    expect(detector.nextExpiryMs()).toBeUndefined();
  });

  it('keeps ejected/total within the percentage for any sequence of events', () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    const event = fc.record({
      id: fc.constantFrom(...ids),
      ok: fc.boolean(),
      advanceMs: fc.nat({ max: 30_000 }),
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100 }),
        fc.array(event, { maxLength: 200 }),
        (percent, events) => {
          const { clock, detector } = setup(
            { maxEjectionPercent: percent, ejectAfter: 2 },
            ids.length,
          );
          for (const e of events) {
            clock.now += e.advanceMs;
            if (e.ok) detector.connectSucceeded(e.id);
            else detector.connectFailed(e.id);
            expect(detector.ejectedIds().length * 100).toBeLessThanOrEqual(percent * ids.length);
            for (const id of ids) {
              const until = detector.ejectedUntil(id);
              if (until !== undefined) expect(until - clock.now).toBeLessThanOrEqual(300_000);
            }
          }
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it.each([
    [{ ejectAfter: -1 }, /ejectAfter/],
    [{ ejectAfter: 1.5 }, /ejectAfter/],
    [{ baseEjectMs: 0 }, /baseEjectMs/],
    [{ maxEjectMs: 5_000 }, /maxEjectMs must be at least baseEjectMs/],
    [{ maxEjectionPercent: 101 }, /maxEjectionPercent/],
    [{ maxEjectionPercent: Number.NaN }, /maxEjectionPercent/],
  ])('refuses bad options %j', (over, message) => {
    expect(() => setup(over)).toThrow(message);
  });
});
