import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, expect, it } from 'vitest';
import { startProxy, type RunningProxy } from '../helpers/headway-process.ts';
import {
  connectTo,
  eventually,
  getJson,
  metricValue,
  readAll,
  refusedPort,
  startEcho,
  type Backend,
} from '../helpers/sockets.ts';

/**
 * Defect: with `--workers N`, each worker thread ran its own outlier
 * detection, so a refusing backend took `--eject-after` consecutive failures
 * in every worker (N times as many failed connects) before the whole process
 * stopped sending to it, and was "ejected" N times. Connect outcomes now go to
 * the main thread, whose one detector decides for every worker.
 */

interface BackendRow {
  id: string;
  state: string;
  failures: number;
  ejections: number;
  ejectedByWorkers?: number;
}
interface Report {
  listeners: { backends: BackendRow[] }[];
}

let proxy: RunningProxy | undefined;
const backends: Backend[] = [];

afterEach(async () => {
  await proxy?.stop();
  await Promise.all(backends.splice(0).map((b) => b.close()));
});

it('ejects a refusing backend once for the process, after --eject-after failures in all', async () => {
  const echo = await startEcho();
  backends.push(echo);
  const dead = `127.0.0.1:${await refusedPort()}`;
  proxy = await startProxy([
    '--workers',
    '2',
    '--strategy',
    'round-robin',
    '--eject-after',
    '2',
    '--max-ejection-percent',
    '50',
    '--backends',
    `static://${echo.address},${dead}`,
  ]);
  const p = proxy;
  // Enough connections that each worker (the kernel spreads them) alternates onto the dead
  // backend several times; one at a time, a little apart, so an ejection reaches every worker
  // before the next connection.
  for (let i = 0; i < 24; i++) {
    const s = await connectTo(p.port);
    s.end('ping');
    expect((await readAll(s)).toString()).toBe('ping');
    await delay(30);
  }
  await eventually(async () => {
    const t = await (await fetch(`${p.adminUrl}/metrics`)).text();
    return metricValue(t, 'headway_connections_total', { backend: echo.address }) === 24
      ? t
      : undefined;
  });
  const r = await getJson<Report>(`${p.adminUrl}/backends`);
  const bad = r.listeners[0]?.backends.find((b) => b.id === dead);
  expect(bad?.ejections).toBe(1);
  expect(bad?.failures).toBe(2);
  expect(bad?.state).toBe('ejected');
  expect(bad?.ejectedByWorkers).toBe(2);
  const metrics = await (await fetch(`${p.adminUrl}/metrics`)).text();
  expect(metricValue(metrics, 'headway_backend_ejections_total', { backend: dead })).toBe(1);
});
