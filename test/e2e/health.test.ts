import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startProxy, type RunningProxy } from '../helpers/headway-process.ts';
import { eventually, metricValue, refusedPort, whoAnswers } from '../helpers/sockets.ts';
import { listenerReport, type BackendReport, type ListenerReport } from '../kit/backends-report.ts';

/**
 * Issue #7 through the CLI, on loopback: active TCP checks (connect, and
 * send/expect), passive ejection after connect failures, and panic mode when
 * every backend fails its checks.
 */

/** A loopback server that sends `NAME\n` on connect, then answers PING with `pong` (when given) and echoes anything else. */
interface NamedServer {
  readonly name: string;
  readonly port: number;
  readonly address: string;
  close(): Promise<void>;
}

async function startNamed(name: string, opts: { port?: number; pong?: string } = {}) {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    // Probes hang up at once: resets are expected.
    s.on('error', () => undefined);
    s.on('end', () => s.end());
    s.write(`${name}\n`);
    s.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      if (opts.pong !== undefined && text.includes('PING')) s.write(opts.pong);
      else s.write(chunk);
    });
  });
  server.listen({ host: '127.0.0.1', port: opts.port ?? 0 });
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const named: NamedServer = {
    name,
    port,
    address: `127.0.0.1:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return named;
}

function report(proxy: RunningProxy): Promise<ListenerReport> {
  return listenerReport(proxy.adminUrl);
}

async function backendJson(proxy: RunningProxy, id: string): Promise<BackendReport> {
  const b = (await report(proxy)).backends.find((x) => x.id === id);
  if (b === undefined) throw new Error(`no backend ${id} in /backends`);
  return b;
}

async function metricsOf(proxy: RunningProxy): Promise<string> {
  return (await fetch(`${proxy.adminUrl}/metrics`)).text();
}

/** The value of one sample whose labels include all of `labels`; undefined when there is none (unlike `metricValue`). */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)\{(.*)\} (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const labelText = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) {
      return Number(m[3]);
    }
  }
  return undefined;
}

/** Wait (bounded) until backend `id`'s active-check verdict is `healthy`; returns how long it took. */
async function untilHealth(
  proxy: RunningProxy,
  id: string,
  healthy: boolean,
  timeoutMs = 8000,
): Promise<number> {
  const started = Date.now();
  await eventually(
    async () => ((await backendJson(proxy, id)).health?.healthy === healthy ? true : undefined),
    timeoutMs,
    25,
  );
  return Date.now() - started;
}

/** Which servers answer `n` new connections through the proxy (all must succeed). */
async function whoServes(proxy: RunningProxy, n: number): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const { who, socket } = await whoAnswers(proxy.port);
    names.push(who);
    socket.destroy();
  }
  return names;
}

const HEALTH = [
  '--health-check',
  'tcp',
  '--health-interval',
  '200ms',
  // Ejection off, so what these tests see is the active checks' doing.
  '--eject-after',
  '0',
  '--strategy',
  'round-robin',
];

describe('health checks, passive ejection and panic mode (CLI)', () => {
  const cleanup: (() => Promise<unknown>)[] = [];

  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  function track<T extends { close(): Promise<void> } | RunningProxy>(thing: T): T {
    cleanup.push(() => ('stop' in thing ? thing.stop() : thing.close()));
    return thing;
  }

  it('a stopped backend is marked down (and gets no connections); restarted on its port it is up and used again', async () => {
    const a = track(await startNamed('a'));
    let b = await startNamed('b');
    cleanup.push(() => b.close());
    const proxy = track(
      await startProxy([
        ...HEALTH,
        '--health-fall',
        '2',
        '--health-rise',
        '2',
        '--backends',
        `static://${a.address},${b.address}`,
      ]),
    );
    await eventually(async () => {
      const l = await report(proxy);
      return l.backends.every((x) => x.health?.healthy === true && x.health.checks >= 2)
        ? true
        : undefined;
    });
    expect(new Set(await whoServes(proxy, 4))).toEqual(new Set(['a', 'b']));

    await b.close();
    // Two failed checks 200 ms apart (plus the phase of the first): well under 4 s.
    const downMs = await untilHealth(proxy, b.address, false);
    expect(downMs).toBeLessThan(4000);
    const down = await backendJson(proxy, b.address);
    expect(down.health?.lastResult).toBe('connection refused');
    const text = await metricsOf(proxy);
    expect(sample(text, 'headway_backend_healthy', { backend: b.address })).toBe(0);
    expect((await report(proxy)).tier).toBe('ready');
    const failuresBefore = down.failures;
    expect(await whoServes(proxy, 8)).toEqual(Array<string>(8).fill('a'));
    // Not tried and retried: the proxy never attempted the down backend.
    expect((await backendJson(proxy, b.address)).failures).toBe(failuresBefore);

    b = await startNamed('b', { port: b.port });
    const upMs = await untilHealth(proxy, b.address, true);
    expect(upMs).toBeLessThan(4000);
    expect(sample(await metricsOf(proxy), 'headway_backend_healthy', { backend: b.address })).toBe(
      1,
    );
    expect(new Set(await whoServes(proxy, 6))).toEqual(new Set(['a', 'b']));
  });

  it('--health-send/--health-expect: a backend answering -ERR instead of +PONG is marked down', async () => {
    const pong = track(await startNamed('pong', { pong: '+PONG\r\n' }));
    const err = track(await startNamed('err', { pong: '-ERR not ready\r\n' }));
    const proxy = track(
      await startProxy([
        ...HEALTH,
        '--health-send',
        'PING\\r\\n',
        '--health-expect',
        '+PONG',
        '--health-timeout',
        '300ms',
        '--health-fall',
        '2',
        '--health-rise',
        '2',
        '--backends',
        `static://${pong.address},${err.address}`,
      ]),
    );
    await untilHealth(proxy, err.address, false);
    const bad = await backendJson(proxy, err.address);
    // Connected and answered, but never the expected string: the check times out.
    expect(bad.health?.lastResult).toBe('timeout');
    const good = await eventually(async () => {
      const g = await backendJson(proxy, pong.address);
      return (g.health?.checks ?? 0) >= 2 ? g : undefined;
    });
    expect(good.health).toMatchObject({ healthy: true, lastResult: 'matched' });
    // A backend that never failed has its series too (set when it was discovered).
    expect(
      sample(await metricsOf(proxy), 'headway_backend_healthy', { backend: pong.address }),
    ).toBe(1);
    expect(
      sample(await metricsOf(proxy), 'headway_backend_healthy', { backend: err.address }),
    ).toBe(0);
    expect((await report(proxy)).tier).toBe('ready');
    expect(await whoServes(proxy, 6)).toEqual(Array<string>(6).fill('pong'));
  });

  it('--eject-after 2: a refusing backend is ejected; clients never see a failure', async () => {
    const echo = track(await startNamed('echo'));
    const refusing = `127.0.0.1:${await refusedPort()}`;
    const proxy = track(
      await startProxy([
        '--eject-after',
        '2',
        '--strategy',
        'round-robin',
        '--backends',
        `static://${refusing},${echo.address}`,
      ]),
    );
    let connections = 0;
    const ejected = await eventually(
      async () => {
        // Every connection is served by the echo server, retried there when the first try is refused.
        expect(await whoServes(proxy, 1)).toEqual(['echo']);
        connections++;
        const r = await backendJson(proxy, refusing);
        return r.ejectedUntil === undefined ? undefined : r;
      },
      10_000,
      0,
    );
    expect(connections).toBeLessThanOrEqual(10);
    expect(ejected.failures).toBeGreaterThanOrEqual(2);
    // The first ejection lasts 10 s.
    const leftMs = Date.parse(ejected.ejectedUntil ?? '') - Date.now();
    expect(leftMs).toBeGreaterThan(5000);
    expect(leftMs).toBeLessThanOrEqual(10_500);
    const text = await metricsOf(proxy);
    expect(
      metricValue(text, 'headway_backend_ejections_total', { backend: refusing }),
    ).toBeGreaterThanOrEqual(1);
    expect((await report(proxy)).tier).toBe('ready');

    // While ejected it is not even tried.
    expect(await whoServes(proxy, 6)).toEqual(Array<string>(6).fill('echo'));
    expect((await backendJson(proxy, refusing)).failures).toBe(ejected.failures);
    const after = await metricsOf(proxy);
    expect(metricValue(after, 'headway_connections_total', { outcome: 'ok' })).toBeGreaterThan(0);
    for (const outcome of ['connect_error', 'connect_timeout', 'no_backend']) {
      expect(metricValue(after, 'headway_connections_total', { outcome })).toBe(0);
    }
  });

  it('panic mode: with every backend failing its checks, connections still go to all of them', async () => {
    const x = track(await startNamed('x', { pong: '-ERR\r\n' }));
    const y = track(await startNamed('y', { pong: '-ERR\r\n' }));
    const proxy = track(
      await startProxy([
        ...HEALTH,
        '--health-send',
        'PING\\r\\n',
        '--health-expect',
        '+PONG',
        '--health-timeout',
        '300ms',
        '--health-fall',
        '1',
        '--health-rise',
        '1',
        '--backends',
        `static://${x.address},${y.address}`,
      ]),
    );
    await untilHealth(proxy, x.address, false);
    await untilHealth(proxy, y.address, false);
    expect((await report(proxy)).tier).toBe('panic');

    expect(new Set(await whoServes(proxy, 6))).toEqual(new Set(['x', 'y']));
    const text = await metricsOf(proxy);
    expect(metricValue(text, 'headway_panic_total')).toBeGreaterThanOrEqual(1);
    await proxy.waitForLog(
      (l) => l.msg === 'panic mode: every backend is unhealthy or ejected; using all of them',
      1000,
    );
  });
});
