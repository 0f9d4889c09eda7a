/**
 * Regression (issue 15, item 10): a second SIGTERM/SIGINT called exit(1)
 * and the kernel closed every in-flight transfer with a clean FIN, so a
 * client that got part of a stream saw an orderly close (truncation looked
 * like success). Now the forced exit resets (RST) every open connection first.
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/headway-process.ts';
import { connectTo, startServer } from '../helpers/sockets.ts';

/** A backend that streams without end, in small paced writes, while the connection lasts. */
function streamer(s: Socket): void {
  s.on('error', () => undefined);
  const chunk = Buffer.alloc(16 * 1024, 0x61);
  const timer = setInterval(() => {
    if (!s.destroyed) s.write(chunk);
  }, 5);
  s.on('close', () => clearInterval(timer));
}

describe('the forced exit of a second signal', () => {
  it('resets a transfer in flight instead of ending it with a clean FIN', async () => {
    const backend = await startServer(streamer);
    const proxy = await startProxy([
      '--shutdown-delay',
      '0s',
      '--drain-timeout',
      '60s',
      '--backends',
      `static://${backend.address}`,
    ]);
    try {
      const client = await connectTo(proxy.port);
      let received = 0;
      client.on('data', (c: Buffer) => (received += c.length));
      const ended = new Promise<'fin' | 'reset'>((resolve) => {
        client.once('end', () => resolve('fin'));
        client.once('error', () => resolve('reset'));
      });
      while (received < 256 * 1024) await once(client, 'data');
      proxy.proc.kill('SIGTERM');
      await proxy.waitForLog((l) => l.msg === 'signal received');
      proxy.proc.kill('SIGTERM');
      const exit = await proxy.exited;
      expect(exit.code).toBe(1);
      expect(await ended).toBe('reset');
      client.destroy();
    } finally {
      await proxy.stop();
      await backend.close();
    }
  });
});
