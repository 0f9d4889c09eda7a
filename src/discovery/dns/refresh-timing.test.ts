import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  backoffDelayMs,
  DEFAULT_TTL_SECONDS,
  refreshDelayMs,
  type RefreshBounds,
} from './refresh-timing.ts';

const SEED = 20240917;
const BOUNDS: RefreshBounds = { minMs: 1000, maxMs: 30_000 };
const noJitter = (): number => 0;
const fullJitter = (): number => 1;

const boundsArb = fc
  .tuple(fc.integer({ min: 1, max: 120_000 }), fc.integer({ min: 0, max: 600_000 }))
  .map(([minMs, extra]): RefreshBounds => ({ minMs, maxMs: minMs + extra }));
const randomArb = fc.double({ min: 0, max: 1, noNaN: true });

describe('refreshDelayMs', () => {
  it.each([
    [0, 1000],
    [0.5, 1000],
    [1, 1000],
    [5, 5000],
    [29.5, 29_500],
    [30, 30_000],
    [31, 30_000],
    [86_400, 30_000],
  ])('clamps a TTL of %ss to [min, max]: %dms', (ttl, expected) => {
    expect(refreshDelayMs(ttl, BOUNDS, noJitter)).toBe(expected);
  });

  it('uses 5 s when the answer carried no TTL', () => {
    expect(DEFAULT_TTL_SECONDS).toBe(5);
    expect(refreshDelayMs(undefined, BOUNDS, noJitter)).toBe(5000);
    // ... clamped like any other TTL.
    expect(refreshDelayMs(undefined, { minMs: 10_000, maxMs: 60_000 }, noJitter)).toBe(10_000);
    expect(refreshDelayMs(undefined, { minMs: 500, maxMs: 2000 }, noJitter)).toBe(2000);
  });

  it('jitter shortens the wait by at most 15 %', () => {
    expect(refreshDelayMs(10, BOUNDS, fullJitter)).toBeCloseTo(8500, 6);
    expect(refreshDelayMs(10, BOUNDS, () => 0.5)).toBeCloseTo(9250, 6);
    expect(refreshDelayMs(300, BOUNDS, fullJitter)).toBeCloseTo(25_500, 6);
  });

  it('jitter never goes below the minimum', () => {
    expect(refreshDelayMs(1, BOUNDS, fullJitter)).toBe(1000);
    expect(refreshDelayMs(1.1, BOUNDS, fullJitter)).toBe(1000);
    expect(refreshDelayMs(0, BOUNDS, fullJitter)).toBe(1000);
  });

  it('stays in [max(min, 85 % of the clamped TTL), clamped TTL] (property)', () => {
    fc.assert(
      fc.property(
        fc.option(fc.double({ min: 0, max: 100_000, noNaN: true }), { nil: undefined }),
        boundsArb,
        randomArb,
        (ttl, b, r) => {
          const clamped = Math.min(b.maxMs, Math.max(b.minMs, (ttl ?? 5) * 1000));
          const d = refreshDelayMs(ttl, b, () => r);
          expect(d).toBeGreaterThanOrEqual(b.minMs);
          expect(d).toBeLessThanOrEqual(b.maxMs);
          expect(d).toBeLessThanOrEqual(clamped);
          expect(d).toBeGreaterThanOrEqual(Math.max(b.minMs, clamped * 0.85) - 1e-6);
        },
      ),
      { seed: SEED, numRuns: 500 },
    );
  });
});

describe('backoffDelayMs', () => {
  it('doubles from the minimum and caps at the maximum', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 50].map((n) => backoffDelayMs(n, BOUNDS, noJitter));
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('treats zero failures like the first', () => {
    expect(backoffDelayMs(0, BOUNDS, noJitter)).toBe(1000);
  });

  it('stays finite and capped after very many failures', () => {
    expect(backoffDelayMs(10_000, BOUNDS, noJitter)).toBe(30_000);
    expect(backoffDelayMs(Number.MAX_SAFE_INTEGER, { minMs: 1000, maxMs: 1e12 }, noJitter)).toBe(
      1000 * 2 ** 20,
    );
  });

  it('jitter shortens it by at most 15 %, never below the minimum', () => {
    expect(backoffDelayMs(3, BOUNDS, fullJitter)).toBeCloseTo(3400, 6);
    expect(backoffDelayMs(1, BOUNDS, fullJitter)).toBe(1000);
    expect(backoffDelayMs(20, BOUNDS, fullJitter)).toBeCloseTo(25_500, 6);
  });

  it('is non-decreasing in failures and within bounds (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 }), boundsArb, randomArb, (n, b, r) => {
        const d = backoffDelayMs(n, b, () => r);
        expect(d).toBeGreaterThanOrEqual(b.minMs);
        expect(d).toBeLessThanOrEqual(b.maxMs);
        expect(backoffDelayMs(n + 1, b, noJitter)).toBeGreaterThanOrEqual(
          backoffDelayMs(n, b, noJitter),
        );
        expect(d).toBeLessThanOrEqual(backoffDelayMs(n, b, noJitter));
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});
