import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/headway-process.ts';
import {
  closed,
  connectTo,
  eventually,
  getJson,
  metricValue,
  startEcho,
  startWhoami,
  whoAnswers,
} from '../helpers/sockets.ts';

async function outcomes(adminUrl: string, outcome: string): Promise<number> {
  return metricValue(
    await (await fetch(`${adminUrl}/metrics`)).text(),
    'headway_connections_total',
    { outcome },
  );
}

async function echoing(port: number, from?: string): Promise<Socket> {
  const s = connect({
    port,
    host: '127.0.0.1',
    ...(from === undefined ? {} : { localAddress: from }),
    allowHalfOpen: true,
  });
  await once(s, 'connect');
  // A refused client is reset by the proxy; the close handler below reports it.
  s.on('error', () => undefined);
  s.write('ping');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('no echo within 5 s'));
    }, 5000);
    s.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
    s.once('close', () => {
      clearTimeout(timer);
      reject(new Error('closed before the echo'));
    });
  });
  return s;
}

describe('limits and queueing', () => {
  it('--reject-over-limit closes clients over --max-connections at once (rejected)', async () => {
    const echo = await startEcho();
    const proxy = await startProxy([
      '--max-connections',
      '1',
      '--reject-over-limit',
      '--backends',
      `static://${echo.address}`,
    ]);
    try {
      const first = await echoing(proxy.port);
      const second = await connectTo(proxy.port);
      const started = Date.now();
      await closed(second);
      expect(Date.now() - started).toBeLessThan(2000);
      await eventually(async () =>
        (await outcomes(proxy.adminUrl, 'rejected')) === 1 ? true : undefined,
      );
      first.destroy();
    } finally {
      await proxy.stop();
      await echo.close();
    }
  });

  it('--max-connections-per-backend skips full backends, queues when all are full, rejects after --queue-timeout', async () => {
    const a = await startWhoami('127.0.0.41');
    const b = await startWhoami('127.0.0.42', a.port);
    const proxy = await startProxy([
      '--max-connections-per-backend',
      '1',
      '--queue-timeout',
      '1500ms',
      '--backends',
      `static://${a.address},${b.address}`,
    ]);
    try {
      const one = await whoAnswers(proxy.port);
      const two = await whoAnswers(proxy.port);
      // Full backends are skipped: the two clients landed on different backends.
      expect(new Set([one.who, two.who])).toEqual(new Set(['127.0.0.41', '127.0.0.42']));
      // A third waits in the queue...
      const third = whoAnswers(proxy.port);
      await eventually(async () => {
        const r = await getJson<{ listeners: { queued: number }[] }>(`${proxy.adminUrl}/backends`);
        return r.listeners[0]?.queued === 1 ? true : undefined;
      });
      // ...and gets the slot the first one frees.
      one.socket.destroy();
      const got = await third;
      expect(got.who).toBe(one.who);
      // A fourth waits past the queue timeout and is rejected.
      const fourth = await connectTo(proxy.port);
      const waitStarted = Date.now();
      await closed(fourth);
      expect(Date.now() - waitStarted).toBeGreaterThanOrEqual(1200);
      await eventually(async () =>
        (await outcomes(proxy.adminUrl, 'rejected')) === 1 ? true : undefined,
      );
      two.socket.destroy();
      got.socket.destroy();
    } finally {
      await proxy.stop();
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('--max-connections-per-client limits each source address on its own', async () => {
    const echo = await startEcho();
    const proxy = await startProxy([
      '--max-connections-per-client',
      '2',
      '--backends',
      `static://${echo.address}`,
    ]);
    try {
      const held = [
        await echoing(proxy.port, '127.0.0.51'),
        await echoing(proxy.port, '127.0.0.51'),
      ];
      const third = connect({ port: proxy.port, host: '127.0.0.1', localAddress: '127.0.0.51' });
      await closed(third);
      await eventually(async () =>
        (await outcomes(proxy.adminUrl, 'rejected')) === 1 ? true : undefined,
      );
      // Another address is not affected.
      const other = await echoing(proxy.port, '127.0.0.52');
      other.destroy();
      // Freed slots can be used again.
      held[0]?.destroy();
      await eventually(async () => {
        try {
          const again = await echoing(proxy.port, '127.0.0.51');
          again.destroy();
          return true;
        } catch {
          return undefined;
        }
      });
      held[1]?.destroy();
    } finally {
      await proxy.stop();
      await echo.close();
    }
  });
});

describe('runtime control', () => {
  it('POST /backends/{id}/drain stops new connections to it; undrain restores it', async () => {
    const a = await startWhoami('127.0.0.61');
    const b = await startWhoami('127.0.0.62', a.port);
    const proxy = await startProxy([
      '--strategy',
      'round-robin',
      '--backends',
      `static://${a.address},${b.address}`,
    ]);
    try {
      const held = await whoAnswers(proxy.port);
      const drainedId = `${held.who}:${a.port}`;
      const res = await fetch(`${proxy.adminUrl}/backends/${encodeURIComponent(drainedId)}/drain`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(200);
      const r = await getJson<{
        listeners: { backends: { id: string; state: string; active: number }[] }[];
      }>(`${proxy.adminUrl}/backends`);
      expect(r.listeners[0]?.backends.find((x) => x.id === drainedId)).toMatchObject({
        state: 'maintenance',
        active: 1,
      });
      for (let i = 0; i < 4; i++) {
        const c = await whoAnswers(proxy.port);
        expect(c.who).not.toBe(held.who);
        c.socket.destroy();
      }
      // The open connection keeps working.
      held.socket.write('x');
      await once(held.socket, 'data');
      expect(
        (
          await fetch(`${proxy.adminUrl}/backends/${encodeURIComponent(drainedId)}/undrain`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
          })
        ).status,
      ).toBe(200);
      const seen = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const c = await whoAnswers(proxy.port);
        seen.add(c.who);
        c.socket.destroy();
      }
      expect(seen.has(held.who)).toBe(true);
      expect(
        (
          await fetch(`${proxy.adminUrl}/backends/nope/drain`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
          })
        ).status,
      ).toBe(404);
      expect(
        (await fetch(`${proxy.adminUrl}/backends/${encodeURIComponent(drainedId)}/drain`)).status,
      ).toBe(405);
      held.socket.destroy();
    } finally {
      await proxy.stop();
      await Promise.all([a.close(), b.close()]);
    }
  });
});
