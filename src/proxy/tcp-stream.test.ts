import { once } from 'node:events';
import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { errnoCode } from '../core/errors.ts';
import { acceptStreams, connectorFor, openDataSockets, type SocketImpl } from './socket-impl.ts';
import type { StreamReadCallback, TcpStream } from './tcp-stream.ts';

/**
 * The TcpStream contract (tcp-stream.ts), run against real loopback peers
 * for each implementation: RawSocket (`--socket-impl raw`) and NetStream
 * (`--socket-impl net`) must behave the same wherever the session relies on it.
 */

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

function collector(chunks: Buffer[]): StreamReadCallback {
  return (_s, nread, buf) => {
    chunks.push(Buffer.from(buf.subarray(0, nread)));
    return buf;
  };
}

/** Record a stream's events in order; resolves `closed` at `close`. */
function watch(stream: TcpStream) {
  const events: string[] = [];
  let errorCode: string | undefined;
  const closed = new Promise<void>((resolve) => {
    stream.setHandler('connect', () => events.push('connect'));
    stream.setHandler('end', () => events.push('end'));
    stream.setHandler('drain', () => events.push('drain'));
    stream.setHandler('error', (err) => {
      errorCode = errnoCode(err);
      events.push('error');
    });
    stream.setHandler('close', () => {
      events.push('close');
      resolve();
    });
  });
  return { events, closed, error: () => errorCode };
}

function next(stream: TcpStream, event: 'connect' | 'end' | 'drain'): Promise<void> {
  return new Promise((resolve) => stream.setHandler(event, () => resolve()));
}

const pattern = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => i % 251));

describe.each(['raw', 'net'] as const)(
  'TcpStream contract: --socket-impl %s',
  (impl: SocketImpl) => {
    const connectStream = connectorFor(impl);

    /** A stream to `port` that collects what it reads and records its events in order. */
    function open(host: string, port: number, buffer = Buffer.alloc(4096)) {
      const chunks: Buffer[] = [];
      const socket = connectStream(host, port, {
        buffer,
        keepAliveMs: 0,
        onRead: collector(chunks),
      });
      return { socket, chunks, ...watch(socket) };
    }

    it('connects, relays both ways, and closes by itself once both sides have sent FIN', async () => {
      const port = await serve((s) => {
        s.on('data', (d) => s.write(d));
        s.on('end', () => s.end());
      });
      const c = open('127.0.0.1', port);
      await next(c.socket, 'connect');
      expect(c.socket.connecting).toBe(false);
      expect(c.socket.remotePort).toBe(port);
      expect(c.socket.write(Buffer.from('hello'))).toBe(true);
      await new Promise((r) => setTimeout(r, 50));
      c.socket.end();
      await c.closed;
      expect(Buffer.concat(c.chunks).toString()).toBe('hello');
      expect(c.events).toEqual(['end', 'close']);
      expect(c.socket.bytesRead).toBe(5);
      expect(c.socket.destroyed).toBe(true);
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
      await next(c.socket, 'end');
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
      await next(c.socket, 'end');
      c.socket.end();
      await c.closed;
      expect(Buffer.concat(c.chunks).toString()).toBe('hi');
    });

    it('returns false while bytes wait, then emits drain', async () => {
      let peer: Socket | undefined;
      const port = await serve((s) => {
        peer = s;
        s.pause();
      });
      const c = open('127.0.0.1', port);
      await next(c.socket, 'connect');
      const chunk = Buffer.alloc(1024 * 1024);
      let writes = 0;
      while (c.socket.write(chunk) && writes < 256) writes++;
      expect(writes).toBeLessThan(256);
      expect(c.socket.writableLength).toBeGreaterThan(0);
      const drained = next(c.socket, 'drain');
      peer?.resume();
      await drained;
      expect(c.socket.writableLength).toBe(0);
      c.socket.destroy();
      await c.closed;
    });

    it('sends FIN only after every queued write', async () => {
      let received = 0;
      const gotAll = new Promise<string>((resolve) => {
        void serve((s) => {
          s.pause();
          setTimeout(() => s.resume(), 100);
          s.on('data', (d: Buffer) => (received += d.length));
          s.on('end', () => resolve(`end after ${received}`));
        }).then((port) => {
          const c = open('127.0.0.1', port);
          c.socket.setHandler('connect', () => {
            for (let i = 0; i < 8; i++) c.socket.write(Buffer.alloc(1024 * 1024, i));
            c.socket.end();
          });
        });
      });
      expect(await gotAll).toBe(`end after ${8 * 1024 * 1024}`);
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

    it('resetAndDestroy() while connecting closes without error', async () => {
      const port = await serve(() => undefined);
      const c = open('127.0.0.1', port);
      expect(c.socket.connecting).toBe(true);
      c.socket.resetAndDestroy();
      await c.closed;
      expect(c.events).toEqual(['close']);
    });

    it('reads into the buffer the callback returned, in pieces of at most its size, and a pause from the callback holds the rest', async () => {
      const sent = pattern(100_000);
      const port = await serve((s) => s.end(sent));
      const got: Buffer[] = [];
      const buffers = [Buffer.alloc(1000), Buffer.alloc(3000)];
      let reads = 0;
      let largest = 0;
      const socket: TcpStream = connectStream('127.0.0.1', port, {
        buffer: buffers[0] as Buffer,
        keepAliveMs: 0,
        onRead: (s, nread, buf) => {
          expect(buf).toBe(buffers[reads % 2]);
          largest = Math.max(largest, nread);
          got.push(Buffer.from(buf.subarray(0, nread)));
          reads++;
          // Backpressure on every read: nothing may arrive until resume().
          s.pause();
          setImmediate(() => s.resume());
          return buffers[reads % 2] as Buffer;
        },
      });
      const w = watch(socket);
      await next(socket, 'end');
      expect(Buffer.concat(got).equals(sent)).toBe(true);
      expect(largest).toBeLessThanOrEqual(3000);
      socket.end();
      await w.closed;
    });

    it('an accepted client reads nothing until resume(), and counts as an open data socket', async () => {
      const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
      servers.push(server);
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const chunks: Buffer[] = [];
      const accepted = new Promise<TcpStream>((resolve, reject) => {
        acceptStreams(
          server,
          impl,
          (optionsInherited) => ({
            buffer: Buffer.alloc(4096),
            keepAliveMs: 1000,
            onRead: collector(chunks),
            optionsInherited,
          }),
          { onStream: resolve, onFailure: (code) => reject(new Error(code)) },
        );
      });
      const before = openDataSockets();
      const client = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port });
      peers.push(client);
      client.write('early bytes');
      const stream = await accepted;
      expect(openDataSockets()).toBe(before + 1);
      const w = watch(stream);
      await new Promise((r) => setTimeout(r, 50));
      expect(chunks).toEqual([]);
      const ended = next(stream, 'end');
      stream.resume();
      client.end();
      await ended;
      expect(Buffer.concat(chunks).toString()).toBe('early bytes');
      expect(stream.remotePort).toBe(client.localPort);
      stream.end();
      await w.closed;
      expect(openDataSockets()).toBe(before);
    });

    it('resetAndDestroy() after end() with writes still queued closes with RST', async () => {
      let peer: Socket | undefined;
      const port = await serve((s) => {
        s.on('error', () => undefined);
        s.pause();
        peer = s;
      });
      const c = open('127.0.0.1', port);
      await next(c.socket, 'connect');
      for (let i = 0; i < 64; i++) c.socket.write(Buffer.alloc(1024 * 1024));
      c.socket.end();
      expect(c.socket.writableLength).toBeGreaterThan(0);
      c.socket.resetAndDestroy();
      await c.closed;
      const p = peer as Socket;
      const how = await new Promise<string>((resolve) => {
        p.once('end', () => resolve('fin'));
        p.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
        p.resume();
      });
      expect(how).toBe('ECONNRESET');
    });
  },
);
