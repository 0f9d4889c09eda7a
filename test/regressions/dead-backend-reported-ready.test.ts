import { afterEach, expect, it } from 'vitest';
import { startProxy, type RunningProxy } from '../helpers/headway-process.ts';
import { eventually, metricValue, startEcho, type Backend } from '../helpers/sockets.ts';
import { backendsReport } from '../kit/backends-report.ts';

/**
 * Defect: a backend failing its health checks was reported `"state":
 * "ready"` by `/backends` and counted in `headway_backends{state="ready"}`,
 * while the status page (which folded health in on its own) said
 * unhealthy. Health, ejection, maintenance and discovery now fold into one
 * state, defined once (backends/backend.ts) and used by all three.
 */

let proxy: RunningProxy | undefined;
const backends: Backend[] = [];

afterEach(async () => {
  await proxy?.stop();
  await Promise.all(backends.splice(0).map((b) => b.close().catch(() => undefined)));
});

it('reports a backend that fails its health checks as unhealthy, in /backends and /metrics alike', async () => {
  const up = await startEcho();
  const down = await startEcho();
  backends.push(up, down);
  proxy = await startProxy([
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
  const before = Date.now();
  await down.close();
  const report = await eventually(async () => {
    const r = await backendsReport(p.adminUrl);
    return r.listeners[0]?.backends.find((b) => b.id === down.address)?.state === 'unhealthy'
      ? r
      : undefined;
  }, 15_000);
  const dead = report.listeners[0]?.backends.find((b) => b.id === down.address);
  // Discovery alone still lists it as ready; the reported state says why it gets no traffic.
  expect(dead?.endpointState).toBe('ready');
  expect(Date.parse(dead?.stateSince ?? '')).toBeGreaterThanOrEqual(before - 1000);
  expect(report.listeners[0]?.backends.find((b) => b.id === up.address)?.state).toBe('ready');
  const text = await (await fetch(`${p.adminUrl}/metrics`)).text();
  expect(metricValue(text, 'headway_backends', { state: 'unhealthy' })).toBe(1);
  expect(metricValue(text, 'headway_backends', { state: 'ready' })).toBe(1);
});
