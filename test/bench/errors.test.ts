import { afterEach, describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import { refusedPort, startServer, type Backend } from '../helpers/sockets.ts';
import { bench, only } from './bench-helpers.ts';

describe('bench errors are counted, not hidden', () => {
  const servers: Backend[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
  });
  async function serve(onConnection: (s: Socket) => void): Promise<Backend> {
    const b = await startServer(onConnection);
    servers.push(b);
    return b;
  }

  it('counts refused connections by kind', async () => {
    const port = await refusedPort();
    const report = await bench({
      mode: 'rr',
      target: `127.0.0.1:${port}`,
      connections: '2',
      duration: '500ms',
    });
    const t = only(report);
    expect(t.operations).toBe(0);
    expect(t.errors.byKind.ECONNREFUSED).toBeGreaterThan(10);
    expect(t.errors.total).toBe(t.errors.byKind.ECONNREFUSED);
    expect(t.latencyUs?.count).toBe(0);
  });

  it('counts resets', async () => {
    const b = await serve((s) => s.on('data', () => s.resetAndDestroy()));
    const report = await bench({
      mode: 'rr',
      target: b.address,
      connections: '2',
      duration: '500ms',
    });
    const t = only(report);
    expect(t.operations).toBe(0);
    expect(t.errors.byKind.ECONNRESET).toBeGreaterThan(5);
  });

  it('counts short replies, excess replies and timeouts', async () => {
    const half = await serve((s) => s.once('data', (c: Buffer) => s.end(c.subarray(0, 10))));
    const double = await serve((s) => s.on('data', (c: Buffer) => s.write(Buffer.concat([c, c]))));
    const silent = await serve(() => undefined);
    const report = await bench({
      mode: 'rr',
      target: [`half=${half.address}`, `double=${double.address}`, `silent=${silent.address}`],
      connections: '1',
      duration: '800ms',
      rounds: '1',
      timeout: '200ms',
    });
    expect(only(report, 'half').errors.byKind.short_reply).toBeGreaterThan(0);
    expect(only(report, 'double').errors.byKind.excess_reply).toBeGreaterThan(0);
    expect(only(report, 'silent').errors.byKind.timeout).toBeGreaterThanOrEqual(2);
  });

  it('counts errors in connect and stream modes too', async () => {
    const port = await refusedPort();
    const connect = await bench({
      mode: 'connect',
      target: `127.0.0.1:${port}`,
      duration: '300ms',
    });
    expect(only(connect).errors.byKind.ECONNREFUSED).toBeGreaterThan(0);
    const stream = await bench({ mode: 'stream', target: `127.0.0.1:${port}`, duration: '300ms' });
    expect(only(stream).errors.byKind.ECONNREFUSED).toBeGreaterThan(0);
  });
});
