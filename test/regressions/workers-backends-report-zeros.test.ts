import { afterEach, expect, it } from 'vitest';
import { startProxy, type RunningProxy } from '../helpers/headway-process.ts';
import {
  connectTo,
  eventually,
  metricValue,
  readAll,
  refusedPort,
  startEcho,
  type Backend,
} from '../helpers/sockets.ts';
import { backendsReport } from '../kit/backends-report.ts';

/**
 * Defect: with `--workers`, `/backends` (served by the main thread, which
 * relays nothing) showed `total`, `failures`, bytes, latency and ejections
 * as 0 while `/metrics` (merged from the workers) counted the traffic. The
 * main thread now asks every worker for its per-backend figures and adds
 * them up (histograms merged, not percentiles), so the two agree.
 */

let proxy: RunningProxy | undefined;
const backends: Backend[] = [];

afterEach(async () => {
  await proxy?.stop();
  await Promise.all(backends.splice(0).map((b) => b.close()));
});

it('adds up every worker’s figures in /backends, matching /metrics', async () => {
  const echo = await startEcho();
  backends.push(echo);
  const dead = `127.0.0.1:${await refusedPort()}`;
  proxy = await startProxy([
    '--workers',
    '2',
    '--strategy',
    'round-robin',
    '--eject-after',
    '1',
    '--max-ejection-percent',
    '50',
    '--backends',
    `static://${echo.address},${dead}`,
  ]);
  const p = proxy;
  const payload = Buffer.alloc(1000, 7);
  for (let i = 0; i < 30; i++) {
    const s = await connectTo(p.port);
    s.end(payload);
    expect((await readAll(s)).length).toBe(payload.length);
  }
  const metrics = await eventually(async () => {
    const t = await (await fetch(`${p.adminUrl}/metrics`)).text();
    return metricValue(t, 'headway_connections_total', { backend: echo.address }) === 30
      ? t
      : undefined;
  });
  const r = await backendsReport(p.adminUrl);
  expect(r.workers).toBe(2);
  const rows = r.listeners[0]?.backends ?? [];
  const good = rows.find((b) => b.id === echo.address);
  const bad = rows.find((b) => b.id === dead);
  expect(good?.total).toBe(30);
  expect(good?.outcomes.ok).toBe(30);
  expect(good?.bytes.clientToBackend).toBe(
    metricValue(metrics, 'headway_bytes_total', {
      backend: echo.address,
      direction: 'client_to_backend',
    }),
  );
  expect(good?.bytes.clientToBackend).toBe(30 * payload.length);
  expect(good?.latency?.connect.sinceStart.count).toBe(30);
  // The refused backend: connect failures, ejected by at least one worker, counted as in /metrics.
  expect(bad?.failures).toBeGreaterThan(0);
  expect(bad?.ejections).toBe(
    metricValue(metrics, 'headway_backend_ejections_total', { backend: dead }),
  );
  expect(bad?.ejections).toBeGreaterThan(0);
  // Ejected by the workers that saw it fail, for 10 s: normally still so, unless this machine
  // was slow enough for it to end. Either way /metrics counts it in the same state.
  const state = bad?.state ?? '';
  expect(['ejected', 'ready']).toContain(state);
  if (state === 'ejected') expect(bad?.ejectedByWorkers).toBeGreaterThan(0);
  const again = await (await fetch(`${p.adminUrl}/metrics`)).text();
  expect(metricValue(again, 'headway_backends', { state })).toBe(state === 'ready' ? 2 : 1);
});
