/**
 * Regression (issue 15, item 10, the idle timeout path): when --idle-timeout
 * fired while bytes from the backend were still waiting to reach a client
 * that had stopped reading, the proxy closed with FIN: the client, reading
 * again, got what was buffered and then an orderly end — a cut reply that
 * looked complete. Now a timeout with bytes unsent in either direction
 * resets both sides; an idle connection with nothing in flight still gets FIN.
 */
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/headway-process.ts';
import { connectTo, eventually, metricValue, startServer } from '../helpers/sockets.ts';

/** Answers any byte with 16 MiB: far more than the socket buffers between it and a paused client. */
function bigReply(s: Socket): void {
  s.on('error', () => undefined);
  s.once('data', () => s.write(Buffer.alloc(16 * 1024 * 1024, 0x62)));
}

describe('--idle-timeout with a reply still unsent', () => {
  it('resets the client instead of ending the cut reply with FIN', async () => {
    const backend = await startServer(bigReply);
    const proxy = await startProxy([
      '--idle-timeout',
      '1s',
      '--backends',
      `static://${backend.address}`,
    ]);
    try {
      const client = await connectTo(proxy.port);
      client.pause();
      client.write('go');
      const ended = new Promise<'fin' | 'reset'>((resolve) => {
        client.once('end', () => resolve('fin'));
        client.once('error', () => resolve('reset'));
      });
      await eventually(async () => {
        const t = await (await fetch(`${proxy.adminUrl}/metrics`)).text();
        return metricValue(t, 'headway_connections_total', { outcome: 'idle_timeout' }) >= 1
          ? true
          : undefined;
      }, 20_000);
      client.resume();
      expect(await ended).toBe('reset');
      client.destroy();
    } finally {
      await proxy.stop();
      await backend.close();
    }
  });

  it('still ends an idle connection with nothing in flight with FIN', async () => {
    const backend = await startServer((s) => s.on('error', () => undefined));
    const proxy = await startProxy([
      '--idle-timeout',
      '500ms',
      '--backends',
      `static://${backend.address}`,
    ]);
    try {
      const client: Socket = await connectTo(proxy.port);
      const ended = await new Promise<'fin' | 'reset'>((resolve) => {
        client.once('end', () => resolve('fin'));
        client.once('error', () => resolve('reset'));
        client.resume();
      });
      expect(ended).toBe('fin');
      client.destroy();
    } finally {
      await proxy.stop();
      await backend.close();
    }
  });
});
