/**
 * Regression (found beyond issue 15's list, same class as item 10): once a
 * RawSocket had a FIN queued behind unsent bytes (end() while the peer was
 * slow to read), a later resetAndDestroy() — the close grace running out,
 * the forced exit of a second signal — did nothing: libuv refuses SO_LINGER 0
 * while a shutdown is pending, and Node then never closes the handle. The
 * connection leaked (never closed, never logged), and the reset meant to
 * cut the reply never came. Now end() asks libuv for the shutdown only once
 * the queued bytes are out, so the reset happens, and closes the socket.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { RawSocket } from '../../src/proxy/libuv/raw-socket.ts';

describe('RawSocket.resetAndDestroy() after end() with writes still queued', () => {
  it('closes the socket with RST, cutting the queued bytes', async () => {
    let peer: Socket | undefined;
    const server = createServer({ pauseOnConnect: true }, (c) => {
      c.on('error', () => undefined);
      peer = c; // never reads until the test says so
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const s = RawSocket.connect('127.0.0.1', port, {
      onRead: (_s, _n, b) => b,
      buffer: Buffer.alloc(64 * 1024),
      keepAliveMs: 0,
    });
    const closedPromise = new Promise<void>((resolve) => s.setHandler('close', () => resolve()));
    s.setHandler('error', () => undefined);
    await new Promise<void>((resolve) => s.setHandler('connect', () => resolve()));
    // Far more than the socket buffers hold: most of it waits in libuv's queue.
    for (let i = 0; i < 64; i++) s.write(Buffer.alloc(1024 * 1024));
    s.end();
    expect(s.writableLength).toBeGreaterThan(0);
    s.resetAndDestroy();
    const outcome = await Promise.race([
      closedPromise.then(() => 'closed'),
      new Promise((r) => setTimeout(() => r('still open after 5 s'), 5000)),
    ]);
    expect(outcome).toBe('closed');
    // The peer sees the reset, not a clean end after a cut stream.
    const p = peer as Socket;
    const how = await new Promise<string>((resolve) => {
      p.once('end', () => resolve('fin'));
      p.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      p.resume();
    });
    expect(how).toBe('ECONNRESET');
    p.destroy();
    server.close();
  });
});
