import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { BackendLatency, LatencyWindow } from './latency.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function usedBytes(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

describe('LatencyWindow', () => {
  it('reports percentiles of the window and since start, and rotates', () => {
    const w = new LatencyWindow({ unit: 'us', maxValue: 60_000_000, slotMs: 1000, nowMs: 0 });
    for (let i = 1; i <= 100; i++) w.record(i / 10, 10); // 0.1 … 10 ms
    let r = w.report(500);
    expect(r.window.count).toBe(100);
    expect(r.window.p50).toBeCloseTo(5, 0);
    expect(r.window.max).toBeCloseTo(10, 1);
    expect(r.window.p99).toBeLessThanOrEqual(r.window.max);
    // Next slot: still in the window (previous slot).
    r = w.report(1500);
    expect(r.window.count).toBe(100);
    // Two slots later: out of the window, still since start.
    r = w.report(2500);
    expect(r.window.count).toBe(0);
    expect(r.sinceStart.count).toBe(100);
  });

  it('clamps values to its maximum', () => {
    const w = new LatencyWindow({ unit: 'ms', maxValue: 1000, slotMs: 1000, nowMs: 0 });
    w.record(5_000_000, 1);
    expect(w.report(2).sinceStart.max).toBe(1000);
  });
});

describe('BackendLatency memory', () => {
  it('stays under 64 KiB per backend at 1,000 backends with long tails', () => {
    const before = usedBytes();
    const all: BackendLatency[] = [];
    for (let i = 0; i < 1000; i++) {
      const b = new BackendLatency(0);
      for (let k = 0; k < 200; k++) {
        // Realistic spreads plus one long tail each: 1 s connect, 5 s first byte, 10 min session.
        b.connect.record(0.05 + (k % 50) * 0.02 + (k === 199 ? 1000 : 0), k);
        b.firstByte.record(0.2 + (k % 40) * 0.5 + (k === 199 ? 5000 : 0), k);
        b.session.record(5 + k * 30 + (k === 199 ? 600_000 : 0), k);
      }
      all.push(b);
    }
    const perBackend = (usedBytes() - before) / all.length;
    const largest = Math.max(...all.map((b) => b.footprintBytes()));
    console.log(
      `latency tracking at 1,000 backends: histograms ${(largest / 1024).toFixed(1)} KiB per backend, heap growth ${(perBackend / 1024).toFixed(1)} KiB per backend`,
    );
    // The histograms' own accounting is exact; heap growth measured inside a
    // test worker is only indicative, so it gets a looser bound.
    expect(largest).toBeLessThan(64 * 1024);
    expect(perBackend).toBeLessThan(128 * 1024);
    expect(all).toHaveLength(1000);
  });
});
