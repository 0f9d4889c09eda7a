import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEcho, type Backend } from '../helpers/sockets.ts';
import { bench, only } from './bench-helpers.ts';

describe('bench rr', () => {
  let fast: Backend;
  let slow: Backend;
  beforeAll(async () => {
    fast = await startEcho(0);
    slow = await startEcho(5);
  });
  afterAll(async () => {
    await fast.close();
    await slow.close();
  });

  it('reads a 5 ms echo delay as a 5 ms p50', async () => {
    const report = await bench({
      mode: 'rr',
      target: slow.address,
      connections: '4',
      duration: '1500ms',
    });
    const t = only(report);
    expect(t.errors.total).toBe(0);
    expect(t.latencyUs).not.toBeNull();
    const p50 = t.latencyUs?.p50Us ?? 0;
    // Node timers fire on millisecond ticks: a 5 ms delay lands between 4 and 6.x ms;
    // the upper bound leaves room for two busy shared cores.
    expect(p50).toBeGreaterThanOrEqual(4_000);
    expect(p50).toBeLessThanOrEqual(8_500);
    // 4 connections, one exchange each per ~5 ms, for 1.5 s.
    expect(t.operations).toBeGreaterThan(500);
    expect(t.operations).toBeLessThan(1_300);
    expect(t.bytesSent).toBe(t.operations * 64);
    expect(t.bytesReceived).toBe(t.operations * 64);
    expect(t.latencyUs?.count).toBe(t.operations);
  });

  it('compares interleaved targets side by side, relative to the first', async () => {
    const report = await bench({
      mode: 'rr',
      target: [`slow=${slow.address}`, `fast=${fast.address}`],
      connections: '2',
      duration: '1s',
      rounds: '2',
    });
    const s = only(report, 'slow');
    const f = only(report, 'fast');
    expect(s.rounds).toBe(2);
    expect(f.rounds).toBe(2);
    expect(s.relative).toBeNull();
    expect(f.relative?.throughput).toBeGreaterThan(2);
    expect(f.relative?.p50).toBeLessThan(0.5);
    expect(f.measuredSeconds).toBeGreaterThan(0.9);
    expect(f.measuredSeconds).toBeLessThan(1.5);
  });

  it('holds an open-loop rate', async () => {
    const report = await bench({
      mode: 'rr',
      target: fast.address,
      connections: '4',
      rate: '400',
      duration: '1500ms',
    });
    const t = only(report);
    expect(t.errors.total).toBe(0);
    expect(t.openLoop?.scheduled).toBe(600);
    expect(t.openLoop?.missed).toBe(0);
    // ±10 % of 400/s (600 in 1.5 s).
    expect(t.operations).toBeGreaterThanOrEqual(540);
    expect(t.operations).toBeLessThanOrEqual(660);
    expect(t.openLoop?.achievedRatePerSec).toBeGreaterThan(360);
    expect(t.openLoop?.achievedRatePerSec).toBeLessThan(440);
  });

  it('corrects for coordinated omission: a rate the target cannot keep shows as latency', async () => {
    // One connection to a 5 ms echo serves ~190/s; ask for 400/s.
    const report = await bench({
      mode: 'rr',
      target: slow.address,
      connections: '1',
      rate: '400',
      duration: '1s',
    });
    const t = only(report);
    expect(t.openLoop?.missed).toBeGreaterThan(100);
    // Closed loop would report ~5 ms; measured from due times, the queue shows.
    expect(t.latencyUs?.p99Us).toBeGreaterThan(200_000);
    expect(t.latencyUs?.p50Us).toBeGreaterThan(50_000);
  });
});
