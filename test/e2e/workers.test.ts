import { once } from 'node:events';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runHeadway, startProxy, type RunningProxy } from '../helpers/headway-process.ts';
import {
  type Backend,
  connectTo,
  eventually,
  metricValue,
  patternBytes,
  readAll,
  sha256,
  startEcho,
  startWhoami,
  whoAnswers,
} from '../helpers/sockets.ts';
import { backendsReport } from '../kit/backends-report.ts';

/**
 * `--workers N` through the CLI: worker threads listening on one port with
 * SO_REUSEPORT, discovery and health checks in the main thread, connection
 * counts shared between threads, metrics merged on scrape.
 */

let proxy: RunningProxy | undefined;
const backends: Backend[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await proxy?.stop();
  proxy = undefined;
  await Promise.all(backends.splice(0).map((b) => b.close()));
});

async function metrics(p: RunningProxy): Promise<string> {
  return (await fetch(`${p.adminUrl}/metrics`)).text();
}

async function echoThrough(port: number, data: Buffer): Promise<Buffer> {
  const s = await connectTo(port);
  s.end(data);
  return readAll(s);
}

describe('--workers', () => {
  it('spreads connections over the worker threads, relays intact, counts each connection once', async () => {
    const echo = await startEcho();
    backends.push(echo);
    proxy = await startProxy(['--workers', '2', '--backends', `static://${echo.address}`]);
    const p = proxy;
    const data = patternBytes(256 * 1024, 7);
    for (let i = 0; i < 40; i++) {
      expect(sha256(await echoThrough(p.port, data))).toBe(sha256(data));
    }
    const text = await eventually(async () => {
      const t = await metrics(p);
      return metricValue(t, 'headway_connections_total') === 40 ? t : undefined;
    });
    // SO_REUSEPORT hashes each client port: 40 connections land on both threads.
    const perWorker = [0, 1].map((w) =>
      metricValue(text, 'headway_worker_connections_total', { worker: String(w) }),
    );
    expect(perWorker[0]).toBeGreaterThan(0);
    expect(perWorker[1]).toBeGreaterThan(0);
    expect((perWorker[0] ?? 0) + (perWorker[1] ?? 0)).toBe(40);
    // Discovery ran once, in the main thread, not once per worker.
    expect(metricValue(text, 'headway_discovery_updates_total')).toBe(1);
    expect(metricValue(text, 'headway_bytes_total')).toBe(2 * 40 * data.length);
  });

  it('shares connection counts: /backends (main thread) sees every worker’s open connections', async () => {
    const a = await startWhoami('127.0.0.11');
    const b = await startWhoami('127.0.0.12');
    backends.push(a, b);
    proxy = await startProxy([
      '--workers',
      '2',
      '--strategy',
      'least-conn',
      '--backends',
      `static://${a.address},${b.address}`,
    ]);
    const p = proxy;
    const seen = new Map<string, number>();
    for (let i = 0; i < 20; i++) {
      const { who, socket } = await whoAnswers(p.port);
      sockets.push(socket);
      seen.set(who, (seen.get(who) ?? 0) + 1);
    }
    const report = await eventually(async () => {
      const r = await backendsReport(p.adminUrl);
      return r.listeners[0]?.activeConnections === 20 ? r : undefined;
    });
    expect(report.listeners[0]?.backends.map((x) => x.active).sort()).toEqual([10, 10]);
    // Least-connections over the shared counts: held connections end up even.
    expect([...seen.values()]).toEqual([10, 10]);
    for (const s of sockets.splice(0)) s.destroy();
    await eventually(async () => {
      const r = await backendsReport(p.adminUrl);
      return r.listeners[0]?.activeConnections === 0 ? true : undefined;
    });
  });

  it('passes the main thread’s health verdicts to every worker', async () => {
    const up = await startEcho();
    const down = await startEcho();
    backends.push(up);
    proxy = await startProxy([
      '--workers',
      '2',
      '--health-check',
      'tcp',
      '--health-interval',
      '200ms',
      '--health-fall',
      '1',
      '--backends',
      `static://${up.address},${down.address}`,
    ]);
    const p = proxy;
    await down.close();
    // The gauge merges by max: it reads 0 only once every worker has the verdict too.
    await eventually(async () => {
      const t = await metrics(p);
      return metricValue(t, 'headway_backend_healthy', { backend: down.address }) === 0 &&
        metricValue(t, 'headway_backend_healthy', { backend: up.address }) === 1
        ? true
        : undefined;
    }, 15_000);
    const before = metricValue(await metrics(p), 'headway_connections_total', {
      backend: down.address,
    });
    for (let i = 0; i < 20; i++) {
      expect((await echoThrough(p.port, Buffer.from('ping'))).toString()).toBe('ping');
    }
    const after = await metrics(p);
    expect(metricValue(after, 'headway_connections_total', { backend: down.address })).toBe(before);
  });

  it('drains every worker on SIGTERM and exits 0', async () => {
    const echo = await startEcho();
    backends.push(echo);
    proxy = await startProxy([
      '--workers',
      '2',
      '--drain-timeout',
      '5s',
      '--backends',
      `static://${echo.address}`,
    ]);
    const s = await connectTo(proxy.port);
    s.write('before');
    await once(s, 'data');
    const exit = proxy.stop('SIGTERM', 15_000);
    // The open connection is served through the drain, then closed by its client.
    await new Promise((r) => setTimeout(r, 300));
    s.write('during');
    const [reply] = (await once(s, 'data')) as [Buffer];
    expect(reply.toString()).toBe('during');
    s.end();
    expect((await exit).code).toBe(0);
    proxy = undefined;
  });

  it('rejects a bad worker count (exit 2, naming the flag)', async () => {
    const bad = await runHeadway(['--workers', '-1', '--backends', 'static://127.0.0.1:1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--workers');
  });

  it('exits 1 when the port is taken, as without workers', async () => {
    const echo = await startEcho();
    backends.push(echo);
    const r = await runHeadway([
      '--workers',
      '2',
      '--listen',
      echo.address,
      '--admin',
      'off',
      '--backends',
      `static://${echo.address}`,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot listen on');
  });
});
