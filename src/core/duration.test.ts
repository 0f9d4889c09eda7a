import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDurationMs, parseDurationMs } from './duration.ts';

const SEED = 20_240_601;

describe('parseDurationMs', () => {
  it.each([
    ['0', 0],
    ['250ms', 250],
    ['5s', 5000],
    ['1.5s', 1500],
    ['0.5ms', 0.5],
    ['1m', 60_000],
    ['1m30s', 90_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['1h1m1s1ms', 3_661_001],
    ['100us', 0.1],
    ['100µs', 0.1],
    ['  5s  ', 5000],
    ['0s', 0],
    ['1.001s', 1001],
    ['0.1h', 360_000],
  ])('%j → %d ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each(['5', '1', '100', '0.5', '00', '-1'])(
    'refuses the bare number %j (only 0 may go without a unit)',
    (text) => {
      expect(parseDurationMs(text)).toBeUndefined();
    },
  );

  it.each([
    '',
    '   ',
    'abc',
    '5x',
    's',
    'ms',
    '1 s',
    '1s 2s',
    '-1s',
    '+1s',
    '1.s',
    '.5s',
    '1e3ms',
    '1S',
    '1sec',
    '1mss',
    '5s!',
    'off',
  ])('refuses %j', (text) => {
    expect(parseDurationMs(text)).toBeUndefined();
  });

  it('reads "ms" as milliseconds, not minutes followed by seconds', () => {
    expect(parseDurationMs('1ms')).toBe(1);
    expect(parseDurationMs('1m5s')).toBe(65_000);
  });
});

describe('formatDurationMs', () => {
  it.each([
    [0, '0'],
    [1, '1ms'],
    [500, '500ms'],
    [0.5, '0.5ms'],
    [1000, '1s'],
    [1500, '1.5s'],
    [90_000, '90s'],
    [60_000, '1m'],
    [120_000, '2m'],
    [3_600_000, '1h'],
    [5_400_000, '90m'],
    [86_400_000, '24h'],
  ])('%d ms → %j', (ms, text) => {
    expect(formatDurationMs(ms)).toBe(text);
  });

  it('round-trips every whole number of milliseconds through parse', () => {
    fc.assert(
      fc.property(fc.nat({ max: 10 * 86_400_000 }), (ms) => {
        expect(parseDurationMs(formatDurationMs(ms))).toBe(ms);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('round-trips the values just above whole seconds, where decimals are inexact', () => {
    for (let ms = 1000; ms < 3000; ms++) {
      expect(parseDurationMs(formatDurationMs(ms))).toBe(ms);
    }
  });
});
