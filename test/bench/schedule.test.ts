import { describe, expect, it } from 'vitest';
import { planSteps } from '../../src/bench/schedule.ts';

const label = (s: { kind: string; target: number; round: number }): string =>
  `${s.kind === 'warmup' ? 'w' : 'm'}${'ABC'[s.target] ?? '?'}${s.round}`;

describe('planSteps', () => {
  it('warms every target up, then interleaves the rounds A B C A B C', () => {
    const steps = planSteps({ targets: 3, rounds: 2, durationMs: 1000, warmupMs: 200 });
    expect(steps.map(label)).toEqual([
      'wA0',
      'wB0',
      'wC0',
      'mA0',
      'mB0',
      'mC0',
      'mA1',
      'mB1',
      'mC1',
    ]);
    expect(steps.filter((s) => s.kind === 'measure').every((s) => s.durationMs === 500)).toBe(true);
    expect(steps.filter((s) => s.kind === 'warmup').every((s) => s.durationMs === 200)).toBe(true);
  });

  it('gives every target the same measured time', () => {
    const steps = planSteps({ targets: 2, rounds: 3, durationMs: 900, warmupMs: 0 });
    for (const t of [0, 1]) {
      const total = steps.filter((s) => s.target === t).reduce((sum, s) => sum + s.durationMs, 0);
      expect(total).toBeCloseTo(900);
    }
    expect(steps.some((s) => s.kind === 'warmup')).toBe(false);
  });
});
