import { afterEach, expect, it } from 'vitest';
import { ProxyApp } from '../app/proxy-app.ts';
import { checkShape } from '../config/config-file.ts';
import { resolveProxyConfig, type ProxyConfig } from '../config/resolve.ts';
import { silentLogger } from '../core/logger.ts';
import { PromMetrics } from '../metrics/prom-metrics.ts';
import { connectTo, refusedPort, startWhoami, whoAnswers } from '../../test/helpers/sockets.ts';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function config(listeners: { name: string; listen: string[]; backends: string }[]): ProxyConfig {
  return resolveProxyConfig({
    argv: {},
    env: {},
    file: checkShape('t.yaml', {
      admin: 'off',
      listeners: listeners.map((l) => ({ ...l, 'health-check': 'none' })),
    }),
  });
}

it('hands a kept address to the listener that now names it: rename and move without a gap', async () => {
  const a = await startWhoami('127.0.0.51');
  const b = await startWhoami('127.0.0.52');
  cleanup.push(
    () => a.close(),
    () => b.close(),
  );
  const [p1, p2] = [await refusedPort(), await refusedPort()];
  const app = new ProxyApp(
    config([
      {
        name: 'old',
        listen: [`127.0.0.1:${p1}`, `127.0.0.1:${p2}`],
        backends: `static://${a.address}`,
      },
    ]),
    { logger: silentLogger, metrics: new PromMetrics({ processMetrics: false }) },
  );
  await app.start();
  cleanup.push(() => app.shutdown());
  // A connection held open across the reload.
  const held = await whoAnswers(p1);

  // Renamed, and one address moved to a second listener: both ports stay bound throughout.
  const report = await app.reload(
    config([
      { name: 'new', listen: [`127.0.0.1:${p1}`], backends: `static://${a.address}` },
      { name: 'moved', listen: [`127.0.0.1:${p2}`], backends: `static://${b.address}` },
    ]),
  );
  expect(report).toMatchObject({ added: ['new', 'moved'], removed: ['old'] });
  const viaNew = await whoAnswers(p1);
  expect(viaNew.who).toBe('127.0.0.51');
  const viaMoved = await whoAnswers(p2);
  expect(viaMoved.who).toBe('127.0.0.52');
  expect(app.registry.list().map((l) => [l.name, l.addresses])).toEqual([
    ['new', [`127.0.0.1:${p1}`]],
    ['moved', [`127.0.0.1:${p2}`]],
  ]);
  for (const s of [held.socket, viaNew.socket, viaMoved.socket]) s.destroy();

  // Dropping an address closes its socket.
  await app.reload(
    config([{ name: 'new', listen: [`127.0.0.1:${p1}`], backends: `static://${a.address}` }]),
  );
  await expect(connectTo(p2)).rejects.toThrow();
});
