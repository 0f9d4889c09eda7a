import { describe, expect, it } from 'vitest';
import { PeakEwma } from './peak-ewma.ts';

const TAU = 1000;

describe('PeakEwma', () => {
  it('starts from its initial value', () => {
    expect(new PeakEwma(3, 0).valueAt(0, TAU)).toBe(3);
  });

  it('decays towards zero between samples with time constant τ', () => {
    const e = new PeakEwma(8, 0);
    expect(e.valueAt(TAU * Math.LN2, TAU)).toBeCloseTo(4, 10);
    expect(e.valueAt(2 * TAU * Math.LN2, TAU)).toBeCloseTo(2, 10);
    expect(e.valueAt(-5, TAU)).toBe(8);
  });

  it('jumps to a sample above the current value (peak)', () => {
    const e = new PeakEwma(1, 0);
    e.observe(20, 10, TAU);
    expect(e.valueAt(10, TAU)).toBe(20);
  });

  it('moves towards a lower sample by 1 − e^(−Δt/τ)', () => {
    const e = new PeakEwma(10, 0);
    e.observe(2, TAU, TAU);
    const current = 10 * Math.exp(-1);
    expect(e.valueAt(TAU, TAU)).toBeCloseTo(current + (2 - current) * (1 - Math.exp(-1)), 10);
  });

  it('barely moves for a lower sample right after the previous one, so one fast reply does not erase a peak', () => {
    const e = new PeakEwma(1, 0);
    e.observe(20, 100, TAU);
    e.observe(0.2, 101, TAU);
    expect(e.valueAt(101, TAU)).toBeGreaterThan(19.9);
  });

  it('settles on a steady latency', () => {
    const e = new PeakEwma(1, 0);
    let t = 0;
    for (let i = 0; i < 10_000; i++) e.observe(0.3, (t += 5), TAU);
    expect(e.valueAt(t, TAU)).toBeCloseTo(0.3, 3);
  });
});
