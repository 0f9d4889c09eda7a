import { once } from 'node:events';
import { type AddressInfo, type Server, type Socket, createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { errnoCode } from '../core/errors.ts';
import { RawSocket } from './raw-socket.ts';

/** Real loopback peers for the bare-handle socket: what net.Socket semantics the session relies on. */

const servers: Server[] = [];
const peers: Socket[] = [];
afterEach(async () => {
  for (const p of peers.splice(0)) p.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function serve(onConnection: (s: Socket) => void): Promise<number> {
  const server = createServer({ allowHalfOpen: true }, (s) => {
    peers.push(s);
    onConnection(s);
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** A RawSocket to `port` that collects what it reads and records its events in order. */
function open(host: string, port: number) {
  const events: string[] = [];
  const chunks: Buffer[] = [];
  let errorCode: string | undefined;
  const buffer = Buffer.alloc(4096);
  const socket = RawSocket.connect(host, port, {
    buffer,
    keepAliveMs: 0,
    onRead: (_s, nread, buf) => {
      chunks.push(Buffer.from(buf.subarray(0, nread)));
      return buf;
    },
  });
  const closed = new Promise<void>((resolve) => {
    socket.setHandler('connect', () => events.push('connect'));
    socket.setHandler('end', () => events.push('end'));
    socket.setHandler('drain', () => events.push('drain'));
    socket.setHandler('error', (err) => {
      errorCode = errnoCode(err);
      events.push('error');
    });
    socket.setHandler('close', () => {
      events.push('close');
      resolve();
    });
  });
  return { socket, events, chunks, closed, error: () => errorCode };
}

describe('RawSocket', () => {
  it('connects, relays both ways, and closes by itself once both sides have sent FIN', async () => {
    const port = await serve((s) => {
      s.on('data', (d) => s.write(d));
      s.on('end', () => s.end());
    });
    const c = open('127.0.0.1', port);
    await new Promise<void>((resolve) => c.socket.setHandler('connect', () => resolve()));
    expect(c.socket.write(Buffer.from('hello'))).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    c.socket.end();
    await c.closed;
    expect(Buffer.concat(c.chunks).toString()).toBe('hello');
    expect(c.events).toEqual(['end', 'close']);
    expect(c.socket.bytesRead).toBe(5);
  });

  it('stays writable after the peer’s FIN (half-open), until its own end()', async () => {
    let received = '';
    let peerEnded: () => void = () => undefined;
    const ended = new Promise<void>((resolve) => (peerEnded = resolve));
    const port = await serve((s) => {
      s.end('bye');
      s.on('data', (d: Buffer) => (received += d.toString()));
      s.on('end', () => peerEnded());
    });
    const c = open('127.0.0.1', port);
    await new Promise<void>((resolve) => c.socket.setHandler('end', () => resolve()));
    expect(c.socket.write(Buffer.from('still here'))).toBe(true);
    c.socket.end();
    await Promise.all([c.closed, ended]);
    expect(received).toBe('still here');
  });

  it('reports a refused connection as error, then close', async () => {
    const port = await serve(() => undefined);
    await new Promise((r) => servers.pop()?.close(r));
    const c = open('127.0.0.1', port);
    await c.closed;
    expect(c.events).toEqual(['error', 'close']);
    expect(c.error()).toBe('ECONNREFUSED');
  });

  it('resolves a host name before connecting', async () => {
    const port = await serve((s) => s.end('hi'));
    const c = open('localhost', port);
    await new Promise<void>((resolve) => c.socket.setHandler('end', () => resolve()));
    c.socket.end();
    await c.closed;
    expect(Buffer.concat(c.chunks).toString()).toBe('hi');
  });

  it('returns false while bytes wait in libuv, then emits drain', async () => {
    let peer: Socket | undefined;
    const port = await serve((s) => {
      peer = s;
      s.pause();
    });
    const c = open('127.0.0.1', port);
    await new Promise<void>((resolve) => c.socket.setHandler('connect', () => resolve()));
    const chunk = Buffer.alloc(1024 * 1024);
    let writes = 0;
    while (c.socket.write(chunk) && writes < 256) writes++;
    expect(c.socket.writableLength).toBeGreaterThan(0);
    const drained = new Promise<void>((resolve) => c.socket.setHandler('drain', () => resolve()));
    peer?.resume();
    await drained;
    expect(c.socket.writableLength).toBe(0);
    c.socket.destroy();
    await c.closed;
  });

  it('resetAndDestroy() reaches the peer as ECONNRESET; destroy() closes without error', async () => {
    const peerError = new Promise<string | undefined>((resolve) => {
      void serve((s) => {
        s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code));
        s.on('close', () => resolve(undefined));
      }).then((port) => {
        const c = open('127.0.0.1', port);
        c.socket.setHandler('connect', () => c.socket.resetAndDestroy());
      });
    });
    expect(await peerError).toBe('ECONNRESET');
    const port = await serve(() => undefined);
    const d = open('127.0.0.1', port);
    d.socket.destroy();
    await d.closed;
    expect(d.events).toEqual(['close']);
  });
});
