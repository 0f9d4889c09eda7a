import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/headway-process.ts';
import { startBlackhole, type Blackhole } from '../helpers/blackhole.ts';
import {
  closed,
  connectTo,
  eventually,
  getJson,
  metricValue,
  readAll,
  refusedPort,
  startEcho,
  type Backend,
} from '../helpers/sockets.ts';

async function metricsOf(adminUrl: string): Promise<string> {
  return (await fetch(`${adminUrl}/metrics`)).text();
}

describe('connect retries', () => {
  let echo: Backend;
  let refused: number[];

  beforeAll(async () => {
    echo = await startEcho();
    refused = [await refusedPort(), await refusedPort()];
  });

  afterAll(async () => {
    await echo.close();
  });

  it.each(['least-conn', 'round-robin'])(
    'with 3 backends and 2 refusing, every connection succeeds (%s)',
    async (strategy) => {
      const proxy = await startProxy([
        '--strategy',
        strategy,
        '--backends',
        `static://127.0.0.1:${refused[0]},${echo.address},127.0.0.1:${refused[1]}`,
      ]);
      try {
        for (let i = 0; i < 30; i++) {
          const socket = await connectTo(proxy.port);
          socket.end(`ping ${i}`);
          expect((await readAll(socket)).toString()).toBe(`ping ${i}`);
        }
        const report = await getJson<{
          listeners: { backends: { id: string; failures: number; total: number }[] }[];
        }>(`${proxy.adminUrl}/backends`);
        const backends = report.listeners[0]?.backends ?? [];
        const good = backends.find((b) => b.id === echo.address);
        expect(good?.total).toBe(30);
        // Never the same refusing backend twice for one connection: at most 2 failures per connection.
        const failures = backends.reduce((n, b) => n + b.failures, 0);
        expect(failures).toBeLessThanOrEqual(60);
        expect(failures).toBeGreaterThan(0);
      } finally {
        await proxy.stop();
      }
    },
  );

  it('all backends down: the client is closed promptly and counted as connect_error', async () => {
    const proxy = await startProxy([
      '--backends',
      `static://127.0.0.1:${refused[0]},127.0.0.1:${refused[1]}`,
    ]);
    try {
      const started = Date.now();
      const socket = await connectTo(proxy.port);
      socket.write('hello');
      await closed(socket);
      expect(Date.now() - started).toBeLessThan(3000);
      const text = await eventually(async () => {
        const t = await metricsOf(proxy.adminUrl);
        return metricValue(t, 'headway_connections_total', { outcome: 'connect_error' }) > 0
          ? t
          : undefined;
      });
      expect(metricValue(text, 'headway_connections_total', { outcome: 'ok' })).toBe(0);
    } finally {
      await proxy.stop();
    }
  });
});

describe('connect timeout', () => {
  let hole: Blackhole;

  beforeAll(async () => {
    hole = await startBlackhole();
  });

  afterAll(async () => {
    await hole.close();
  });

  it('gives up on an unanswered backend after --connect-timeout, counted as connect_timeout', async () => {
    const proxy = await startProxy([
      '--connect-timeout',
      '300ms',
      '--connect-retries',
      '0',
      '--backends',
      `static://127.0.0.1:${hole.port}`,
    ]);
    try {
      const started = Date.now();
      const socket = await connectTo(proxy.port);
      await closed(socket);
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(250);
      expect(elapsed).toBeLessThan(5000);
      await eventually(async () =>
        metricValue(await metricsOf(proxy.adminUrl), 'headway_connections_total', {
          outcome: 'connect_timeout',
        }) > 0
          ? true
          : undefined,
      );
    } finally {
      await proxy.stop();
    }
  });

  it('retries a timed-out attempt on another backend', async () => {
    const echo = await startEcho();
    const proxy = await startProxy([
      '--connect-timeout',
      '300ms',
      '--strategy',
      'round-robin',
      '--backends',
      `static://127.0.0.1:${hole.port},${echo.address}`,
    ]);
    try {
      for (let i = 0; i < 4; i++) {
        const socket = await connectTo(proxy.port);
        socket.end('x');
        expect((await readAll(socket)).toString()).toBe('x');
      }
    } finally {
      await proxy.stop();
      await echo.close();
    }
  });
});

describe('no backend', () => {
  it('a listener whose backends all have weight 0 closes new clients as no_backend', async () => {
    const echo = await startEcho();
    const proxy = await startProxy(['--backends', `static://${echo.address}=0`]);
    try {
      const socket = await connectTo(proxy.port);
      await closed(socket);
      const report = await getJson<{ listeners: { usable: boolean }[] }>(
        `${proxy.adminUrl}/backends`,
      );
      expect(report.listeners[0]?.usable).toBe(false);
      await eventually(async () =>
        metricValue(await metricsOf(proxy.adminUrl), 'headway_connections_total', {
          outcome: 'no_backend',
        }) > 0
          ? true
          : undefined,
      );
    } finally {
      await proxy.stop();
      await echo.close();
    }
  });
});
