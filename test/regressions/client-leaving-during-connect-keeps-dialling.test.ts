/**
 * Regression (issue 15, item 8): a client that left while its backend
 * connect was still pending kept the proxy dialling for up to
 * (retries + 1) × --connect-timeout, holding two fds: the client socket was
 * paused while connecting, so its FIN or RST was never seen. Now the client
 * is read while the proxy dials, and its leaving abandons the attempt at once.
 */
import { describe, expect, it } from 'vitest';
import { startBlackhole } from '../helpers/blackhole.ts';
import { startProxy } from '../helpers/headway-process.ts';
import { connectTo, eventually, metricValue, startEcho } from '../helpers/sockets.ts';
import { requireProgram } from '../helpers/required-programs.ts';

async function metrics(adminUrl: string): Promise<string> {
  return (await fetch(`${adminUrl}/metrics`)).text();
}

describe('a client that leaves while the backend connect is pending', () => {
  it('abandons the attempt at once (FIN or RST), long before the connect timeout', async () => {
    requireProgram('python3');
    const hole = await startBlackhole();
    // A connect timeout far beyond the test's patience: only the client's leaving can end these.
    const proxy = await startProxy([
      '--connect-timeout',
      '60s',
      '--connect-retries',
      '2',
      '--backends',
      `static://127.0.0.1:${hole.port}`,
    ]);
    try {
      const fin = await connectTo(proxy.port);
      fin.end();
      const rst = await connectTo(proxy.port);
      rst.resetAndDestroy();
      const text = await eventually(async () => {
        const t = await metrics(proxy.adminUrl);
        // The FIN is a client that left (client_left), the RST a reset.
        return metricValue(t, 'headway_connections_total', { outcome: 'client_left' }) >= 1 &&
          metricValue(t, 'headway_connections_total', { outcome: 'reset' }) >= 1
          ? t
          : undefined;
      }, 20_000);
      expect(metricValue(text, 'headway_connections_total', { outcome: 'connect_timeout' })).toBe(
        0,
      );
      // No attempt is left open towards the backend.
      expect(metricValue(text, 'headway_active_connections')).toBe(0);
    } finally {
      await proxy.stop();
      await hole.close();
    }
  });

  it('still delivers a request the client half-closed after sending (printf … | nc -N)', async () => {
    const echo = await startEcho(300);
    const proxy = await startProxy(['--backends', `static://${echo.address}`]);
    try {
      const s = await connectTo(proxy.port);
      s.end('hello');
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => chunks.push(c));
      await new Promise((resolve, reject) => {
        s.once('end', resolve);
        s.once('error', reject);
      });
      expect(Buffer.concat(chunks).toString()).toBe('hello');
    } finally {
      await proxy.stop();
      await echo.close();
    }
  });
});
