/**
 * Regression (issue 15, item 5): clients over --max-connections were
 * accepted and paused with no deadline; their close was never seen
 * (CLOSE-WAIT piled up), the per-client limit was not applied while they
 * waited, and the fds they held filled the table until /healthz stopped
 * answering. Now: the wait is bounded (at most --max-connections clients,
 * each up to --queue-timeout, then closed as rejected), a waiting client's
 * FIN or RST is seen at once, --max-connections-per-client counts waiting
 * clients, and new clients are refused (reset) before they would eat into
 * the fds kept for the admin endpoint and health checks (--fd-reserve).
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/headway-process.ts';
import { requireProgram } from '../helpers/required-programs.ts';
import {
  closed,
  connectTo,
  eventually,
  metricValue,
  startEcho,
  type Backend,
} from '../helpers/sockets.ts';

async function metrics(adminUrl: string): Promise<string> {
  return (await fetch(`${adminUrl}/metrics`)).text();
}

async function echoing(port: number, from = '127.0.0.1'): Promise<Socket> {
  const s = connect({ port, host: '127.0.0.1', localAddress: from });
  await once(s, 'connect');
  s.on('error', () => undefined);
  s.write('ping');
  await new Promise<void>((resolve, reject) => {
    s.once('data', () => resolve());
    s.once('close', () => reject(new Error('closed before the echo')));
  });
  return s;
}

/** Sockets in CLOSE-WAIT on the proxy's side of `port` (the proxy never closed after the client did). */
function closeWaitCount(port: number): number {
  const out = spawnSync('ss', ['-Htn', 'state', 'close-wait', `( sport = :${port} )`], {
    encoding: 'utf8',
  });
  return out.stdout.split('\n').filter((l) => l.trim() !== '').length;
}

describe('clients over --max-connections', () => {
  it('wait at most --queue-timeout, and a waiting client that leaves is let go at once', async () => {
    requireProgram('ss');
    const echo = await startEcho();
    const proxy = await startProxy([
      '--max-connections',
      '1',
      '--queue-timeout',
      '2s',
      '--backends',
      `static://${echo.address}`,
    ]);
    try {
      const holder = await echoing(proxy.port);
      // Leaves while waiting: the proxy must close its side, not sit in CLOSE-WAIT.
      const leaver = await connectTo(proxy.port);
      leaver.end();
      await eventually(() => (closeWaitCount(proxy.port) === 0 ? true : undefined), 10_000);
      await new Promise((r) => setTimeout(r, 300));
      expect(closeWaitCount(proxy.port)).toBe(0);
      // Stays: closed once --queue-timeout has passed, counted as rejected.
      const waiter = await connectTo(proxy.port);
      await closed(waiter);
      await eventually(async () =>
        metricValue(await metrics(proxy.adminUrl), 'headway_connections_total', {
          outcome: 'rejected',
        }) >= 1
          ? true
          : undefined,
      );
      holder.destroy();
    } finally {
      await proxy.stop();
      await echo.close();
    }
  });

  it('--max-connections-per-client counts the clients that wait', async () => {
    const echo = await startEcho();
    const proxy = await startProxy([
      '--max-connections',
      '4',
      '--max-connections-per-client',
      '3',
      '--queue-timeout',
      '60s',
      '--backends',
      `static://${echo.address}`,
    ]);
    const sockets: Socket[] = [];
    try {
      // Other clients hold every slot.
      for (const from of ['127.0.0.2', '127.0.0.2', '127.0.0.2', '127.0.0.3'])
        sockets.push(await echoing(proxy.port, from));
      let closedCount = 0;
      for (let i = 0; i < 5; i++) {
        const s = await connectTo(proxy.port);
        s.on('error', () => undefined);
        s.on('end', () => closedCount++);
        s.resume();
        sockets.push(s);
      }
      // Three of this client's five may wait (the queue has room for four): two are refused at once.
      await eventually(() => (closedCount === 2 ? true : undefined), 10_000);
      await new Promise((r) => setTimeout(r, 500));
      expect(closedCount).toBe(2);
    } finally {
      for (const s of sockets) s.destroy();
      await proxy.stop();
      await echo.close();
    }
  });

  it('cannot take the fds the admin endpoint and health checks need (ulimit -n 200)', async () => {
    requireProgram('prlimit');
    const echo: Backend = await startEcho();
    const proxy = await startProxy(
      [
        '--health-check',
        'tcp',
        '--health-interval',
        '200ms',
        '--backends',
        `static://${echo.address}`,
      ],
      {},
      (argv) => ['prlimit', '--nofile=200:200', '--', ...argv],
    );
    const sockets: Socket[] = [];
    try {
      // Far more clients than 200 fds allow (each takes two in the proxy); bounded.
      for (let i = 0; i < 250; i++) {
        const s = connect({ port: proxy.port, host: '127.0.0.1' });
        s.on('error', () => undefined);
        sockets.push(s);
      }
      await new Promise((r) => setTimeout(r, 1500));
      // The kubelet's probe still gets an answer.
      const health = await fetch(`${proxy.adminUrl}/healthz`, {
        signal: AbortSignal.timeout(5000),
      });
      expect(health.status).toBe(200);
      const text = await metrics(proxy.adminUrl);
      expect(metricValue(text, 'headway_backend_healthy')).toBe(1);
      expect(proxy.logs.some((l) => l.msg === 'backend failed its health checks')).toBe(false);
    } finally {
      for (const s of sockets) s.destroy();
      await proxy.stop();
      await echo.close();
    }
  });
});
