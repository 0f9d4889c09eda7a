import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/headway-process.ts';
import {
  closed,
  connectTo,
  eventually,
  metricValue,
  startEcho,
  startServer,
} from '../helpers/sockets.ts';

async function outcomeCount(adminUrl: string, outcome: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  return metricValue(text, 'headway_connections_total', { outcome });
}

describe('timeouts', () => {
  it('closes a connection idle for --idle-timeout, counted as idle_timeout', async () => {
    const echo = await startEcho();
    const proxy = await startProxy([
      '--idle-timeout',
      '500ms',
      '--backends',
      `static://${echo.address}`,
    ]);
    try {
      const socket = await connectTo(proxy.port);
      socket.write('ping');
      await new Promise<void>((resolve) => socket.once('data', () => resolve()));
      const quietSince = Date.now();
      await closed(socket);
      const idle = Date.now() - quietSince;
      expect(idle).toBeGreaterThanOrEqual(400);
      expect(idle).toBeLessThan(5000);
      await eventually(async () =>
        (await outcomeCount(proxy.adminUrl, 'idle_timeout')) > 0 ? true : undefined,
      );
    } finally {
      await proxy.stop();
      await echo.close();
    }
  });

  it('keeps a connection with steady traffic open past the idle timeout', async () => {
    const echo = await startEcho();
    const proxy = await startProxy([
      '--idle-timeout',
      '400ms',
      '--backends',
      `static://${echo.address}`,
    ]);
    try {
      const socket = await connectTo(proxy.port);
      let echoed = 0;
      socket.on('data', (c: Buffer) => (echoed += c.length));
      for (let i = 0; i < 10; i++) {
        socket.write('x');
        await new Promise((r) => setTimeout(r, 150));
      }
      expect(socket.destroyed).toBe(false);
      expect(echoed).toBe(10);
      socket.end();
      await closed(socket);
    } finally {
      await proxy.stop();
      await echo.close();
    }
  });

  it('closes a half-closed connection whose other side stays silent (--half-close-timeout)', async () => {
    // The backend reads everything but never answers and never closes.
    const silent = await startServer((s: Socket) => {
      s.resume();
      s.on('end', () => undefined);
    });
    const proxy = await startProxy([
      '--idle-timeout',
      '1h',
      '--half-close-timeout',
      '500ms',
      '--backends',
      `static://${silent.address}`,
    ]);
    try {
      const socket = await connectTo(proxy.port);
      socket.end('request and FIN');
      const started = Date.now();
      await closed(socket);
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(400);
      expect(elapsed).toBeLessThan(5000);
    } finally {
      await proxy.stop();
      await silent.close();
    }
  });

  it('closes connections older than --max-connection-lifetime gracefully (FIN), counted as lifetime', async () => {
    const echo = await startEcho();
    const proxy = await startProxy([
      '--max-connection-lifetime',
      '600ms',
      '--backends',
      `static://${echo.address}`,
    ]);
    try {
      const socket = await connectTo(proxy.port);
      const opened = Date.now();
      let ended = false;
      socket.on('end', () => (ended = true));
      // Keep it busy: the lifetime is not an idle timeout.
      const ticker = setInterval(() => socket.write('x'), 50);
      const { error } = await closed(socket);
      clearInterval(ticker);
      const lived = Date.now() - opened;
      expect(error).toBeUndefined();
      expect(ended).toBe(true);
      expect(lived).toBeGreaterThanOrEqual(500);
      expect(lived).toBeLessThan(5000);
      await eventually(async () =>
        (await outcomeCount(proxy.adminUrl, 'lifetime')) > 0 ? true : undefined,
      );
    } finally {
      await proxy.stop();
      await echo.close();
    }
  });
});
