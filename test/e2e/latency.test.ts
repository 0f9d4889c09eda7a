import { describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/headway-process.ts';
import {
  connectTo,
  getJson,
  metricValue,
  readAll,
  startEcho,
  startServer,
} from '../helpers/sockets.ts';
import { backendsReport } from '../kit/backends-report.ts';

describe('latency tracking', () => {
  it('measures first byte and session against a backend with a known delay', async () => {
    const slow = await startEcho(50);
    const proxy = await startProxy(['--backends', `static://${slow.address}`]);
    try {
      for (let i = 0; i < 8; i++) {
        const s = await connectTo(proxy.port);
        s.end('ping');
        expect((await readAll(s)).toString()).toBe('ping');
      }
      const r = await backendsReport(proxy.adminUrl);
      const lat = r.listeners[0]?.backends[0]?.latency;
      expect(lat?.firstByte.sinceStart.count).toBe(8);
      // The echo holds each reply 50 ms: first byte ≈ 50 ms (generous bounds on shared cores).
      expect(lat?.firstByte.sinceStart.p50).toBeGreaterThanOrEqual(45);
      expect(lat?.firstByte.sinceStart.p50).toBeLessThan(250);
      expect(lat?.session.sinceStart.count).toBe(8);
      expect(lat?.session.sinceStart.p50).toBeGreaterThanOrEqual(45);
      expect(lat?.connect.sinceStart.count).toBe(8);
      expect(lat?.connect.sinceStart.p50).toBeLessThan(50);
      const text = await (await fetch(`${proxy.adminUrl}/metrics`)).text();
      expect(metricValue(text, 'headway_backend_first_byte_seconds_count')).toBe(8);
      // 8 samples ≥ 45 ms: none in the buckets up to 25 ms.
      expect(metricValue(text, 'headway_backend_first_byte_seconds_bucket', { le: '0.025' })).toBe(
        0,
      );
    } finally {
      await proxy.stop();
      await slow.close();
    }
  });

  it('takes no first-byte sample where the server speaks first', async () => {
    const banner = await startServer((s) => {
      s.on('error', () => undefined);
      s.write('220 ready\r\n');
      s.on('data', (c: Buffer) => s.write(c));
      s.on('end', () => s.end());
    });
    const proxy = await startProxy(['--backends', `static://${banner.address}`]);
    try {
      const s = await connectTo(proxy.port);
      await new Promise<void>((resolve) => s.once('data', () => resolve()));
      s.end('HELO x\r\n');
      await readAll(s);
      const r = await backendsReport(proxy.adminUrl);
      const lat = r.listeners[0]?.backends[0]?.latency;
      expect(lat?.connect.sinceStart.count).toBe(1);
      expect(lat?.firstByte.sinceStart.count).toBe(0);
    } finally {
      await proxy.stop();
      await banner.close();
    }
  });

  it('--latency-tracking off records nothing', async () => {
    const echo = await startEcho();
    const proxy = await startProxy([
      '--latency-tracking',
      'off',
      '--backends',
      `static://${echo.address}`,
    ]);
    try {
      const s = await connectTo(proxy.port);
      s.end('x');
      await readAll(s);
      const r = await getJson<{ listeners: { backends: Record<string, unknown>[] }[] }>(
        `${proxy.adminUrl}/backends`,
      );
      expect(r.listeners[0]?.backends[0]?.latency).toBeUndefined();
      const text = await (await fetch(`${proxy.adminUrl}/metrics`)).text();
      expect(metricValue(text, 'headway_backend_connect_seconds_count')).toBe(0);
    } finally {
      await proxy.stop();
      await echo.close();
    }
  });
});
