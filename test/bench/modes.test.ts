import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEcho, type Backend } from '../helpers/sockets.ts';
import { bench, only } from './bench-helpers.ts';

describe('bench stream and connect', () => {
  let echo: Backend;
  beforeAll(async () => {
    echo = await startEcho(0);
  });
  afterAll(async () => {
    await echo.close();
  });

  it('stream measures bytes per second each way', async () => {
    const report = await bench({
      mode: 'stream',
      target: echo.address,
      connections: '2',
      duration: '800ms',
    });
    const t = only(report);
    expect(t.errors.total).toBe(0);
    expect(t.latencyUs).toBeNull();
    expect(t.curve).toEqual([]);
    expect(t.throughput.sentBytesPerSec).toBeGreaterThan(1e6);
    expect(t.throughput.receivedBytesPerSec).toBeGreaterThan(1e6);
    // What came back was sent first (the rest was still in flight at the deadline).
    expect(t.bytesReceived).toBeLessThanOrEqual(t.bytesSent + 2 * 65_536);
  });

  it('connect opens a connection per exchange and times the connect', async () => {
    const report = await bench({
      mode: 'connect',
      target: echo.address,
      connections: '4',
      duration: '800ms',
    });
    const t = only(report);
    expect(t.errors.total).toBe(0);
    expect(t.operations).toBeGreaterThan(50);
    expect(t.connectLatencyUs?.count).toBeGreaterThanOrEqual(t.operations);
    expect(t.latencyUs?.p50Us).toBeGreaterThanOrEqual(t.connectLatencyUs?.p50Us ?? 0);
    expect(t.bytesReceived).toBe(t.operations * 64);
  });

  it('connect with --size 0 connects and closes', async () => {
    const report = await bench({
      mode: 'connect',
      target: echo.address,
      size: '0',
      duration: '500ms',
    });
    const t = only(report);
    expect(t.errors.total).toBe(0);
    expect(t.operations).toBeGreaterThan(20);
    expect(t.bytesReceived).toBe(0);
  });

  it('connect holds an open-loop rate', async () => {
    const report = await bench({
      mode: 'connect',
      target: echo.address,
      connections: '4',
      rate: '200',
      duration: '1s',
    });
    const t = only(report);
    expect(t.errors.total).toBe(0);
    expect(t.openLoop?.missed).toBe(0);
    expect(t.operations).toBeGreaterThanOrEqual(180);
    expect(t.operations).toBeLessThanOrEqual(220);
  });
});
