import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { spawnHeadway, startProxy } from '../helpers/headway-process.ts';
import {
  closed,
  connectTo,
  eventually,
  metricValue,
  readAll,
  startEcho,
} from '../helpers/sockets.ts';

async function status(url: string): Promise<number> {
  try {
    return (await fetch(url)).status;
  } catch {
    return -1;
  }
}

async function echoOnce(port: number, text: string): Promise<string> {
  const s = await connectTo(port);
  s.end(text);
  return (await readAll(s)).toString();
}

describe('shutdown', () => {
  it('keeps accepting during --shutdown-delay with /readyz 503, then drains and exits 0', async () => {
    const echo = await startEcho();
    const proxy = await startProxy([
      '--shutdown-delay',
      '1s',
      '--drain-timeout',
      '10s',
      '--backends',
      `static://${echo.address}`,
    ]);
    try {
      expect(await status(`${proxy.adminUrl}/readyz`)).toBe(200);
      // A long-lived connection opened before the signal.
      const longLived = await connectTo(proxy.port);
      longLived.write('before ');
      await once(longLived, 'data');

      proxy.proc.kill('SIGTERM');
      await proxy.waitForLog((l) => l.msg === 'shutting down');
      expect(await status(`${proxy.adminUrl}/readyz`)).toBe(503);
      expect(await status(`${proxy.adminUrl}/healthz`)).toBe(200);
      // Still accepting new connections during the delay.
      expect(await echoOnce(proxy.port, 'during delay')).toBe('during delay');

      // After the delay: no longer accepting, but the open connection still works.
      await eventually(async () => {
        try {
          await echoOnce(proxy.port, 'x');
          return undefined;
        } catch {
          return true;
        }
      });
      longLived.write('after');
      const rest = readAll(longLived);
      longLived.end();
      expect((await rest).toString()).toContain('after');
      const exit = await proxy.exited;
      expect(exit.code).toBe(0);
    } finally {
      await proxy.stop('SIGKILL');
      await echo.close();
    }
  });

  it('closes connections still open at the drain timeout and exits 0', async () => {
    const echo = await startEcho();
    const proxy = await startProxy([
      '--drain-timeout',
      '500ms',
      '--backends',
      `static://${echo.address}`,
    ]);
    try {
      const socket = await connectTo(proxy.port);
      socket.write('hi');
      await once(socket, 'data');
      const gone = closed(socket);
      const started = Date.now();
      proxy.proc.kill('SIGTERM');
      await gone;
      expect(Date.now() - started).toBeLessThan(5000);
      expect((await proxy.exited).code).toBe(0);
    } finally {
      await proxy.stop('SIGKILL');
      await echo.close();
    }
  });

  it('a second signal exits at once', async () => {
    const echo = await startEcho();
    const proxy = await startProxy([
      '--shutdown-delay',
      '30s',
      '--backends',
      `static://${echo.address}`,
    ]);
    try {
      proxy.proc.kill('SIGTERM');
      await proxy.waitForLog((l) => l.msg === 'shutting down');
      const started = Date.now();
      proxy.proc.kill('SIGINT');
      const exit = await proxy.exited;
      expect(Date.now() - started).toBeLessThan(5000);
      expect(exit.code).toBe(1);
    } finally {
      await proxy.stop('SIGKILL');
      await echo.close();
    }
  });

  it('SIGHUP does not kill the process', async () => {
    const echo = await startEcho();
    const proxy = await startProxy(['--backends', `static://${echo.address}`]);
    try {
      proxy.proc.kill('SIGHUP');
      await proxy.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('SIGHUP'));
      expect(await echoOnce(proxy.port, 'still here')).toBe('still here');
    } finally {
      await proxy.stop();
      await echo.close();
    }
  });
});

describe('admin endpoint', () => {
  it('serves /healthz, /readyz, /backends, /metrics and 404 elsewhere', async () => {
    const echo = await startEcho();
    const proxy = await startProxy(['--name', 'web', '--backends', `static://${echo.address}=3`]);
    try {
      expect(await status(`${proxy.adminUrl}/healthz`)).toBe(200);
      expect(await status(`${proxy.adminUrl}/readyz`)).toBe(200);
      expect(await status(`${proxy.adminUrl}/nope`)).toBe(404);
      expect((await fetch(`${proxy.adminUrl}/backends`, { method: 'POST' })).status).toBe(405);
      const report = (await (await fetch(`${proxy.adminUrl}/backends`)).json()) as {
        listeners: { name: string; usable: boolean; backends: Record<string, unknown>[] }[];
      };
      expect(report.listeners[0]?.name).toBe('web');
      expect(report.listeners[0]?.usable).toBe(true);
      expect(report.listeners[0]?.backends[0]).toMatchObject({
        id: echo.address,
        address: echo.address,
        weight: 3,
        state: 'ready',
        active: 0,
        total: 0,
        failures: 0,
      });
      const open = await connectTo(proxy.port);
      open.write('x');
      await once(open, 'data');
      const text = await (await fetch(`${proxy.adminUrl}/metrics`)).text();
      expect(
        metricValue(text, 'headway_active_connections', { listener: 'web', backend: echo.address }),
      ).toBe(1);
      expect(text).toContain('process_cpu_seconds_total');
      open.end();
      await closed(open);
    } finally {
      await proxy.stop();
      await echo.close();
    }
  });

  it('--ready-requires-backends makes /readyz 503 while no backend is usable', async () => {
    const echo = await startEcho();
    const proxy = await startProxy([
      '--ready-requires-backends',
      '--backends',
      `static://${echo.address}=0`,
    ]);
    try {
      expect(await status(`${proxy.adminUrl}/readyz`)).toBe(503);
    } finally {
      await proxy.stop();
      await echo.close();
    }
  });

  it('--admin off starts no admin endpoint', async () => {
    const echo = await startEcho();
    const p = spawnHeadway([
      '--listen',
      '127.0.0.1:0',
      '--admin',
      'off',
      '--backends',
      `static://${echo.address}`,
    ]);
    try {
      await p.waitForLog((l) => l.msg === 'listener started');
      await new Promise((r) => setTimeout(r, 200));
      expect(p.logs.some((l) => l.msg === 'admin listening')).toBe(false);
    } finally {
      await p.stop();
      await echo.close();
    }
  });
});

describe('--max-connections', () => {
  it('makes a client over the limit wait until a slot frees', async () => {
    const echo = await startEcho();
    const proxy = await startProxy([
      '--max-connections',
      '1',
      '--backends',
      `static://${echo.address}`,
    ]);
    try {
      const first = await connectTo(proxy.port);
      first.write('one');
      await once(first, 'data');
      const second = await connectTo(proxy.port);
      second.write('two');
      let answered = false;
      second.once('data', () => (answered = true));
      await new Promise((r) => setTimeout(r, 300));
      expect(answered).toBe(false);
      first.end();
      await closed(first);
      await eventually(() => (answered ? true : undefined));
      second.end();
      await closed(second);
    } finally {
      await proxy.stop();
      await echo.close();
    }
  });
});
