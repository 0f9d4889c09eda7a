import { expect, it } from 'vitest';
import { ProxyApp } from '../../src/app/proxy-app.ts';
import { resolveProxyConfig } from '../../src/config/resolve.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { PromMetrics } from '../../src/metrics/prom-metrics.ts';
import { connectTo, eventually, readAll, startEcho } from '../helpers/sockets.ts';

it('drops every series of a backend that left discovery once its last connection closes', async () => {
  const echo = await startEcho();
  const config = resolveProxyConfig({
    argv: { listen: '127.0.0.1:0', admin: 'off', backends: `static://${echo.address}` },
    env: {},
  });
  const metrics = new PromMetrics({ processMetrics: false });
  const app = new ProxyApp(config, { logger: silentLogger, metrics });
  await app.start();
  const listener = app.registry.list()[0];
  if (listener === undefined) throw new Error('no listener');
  const port = Number((listener.addresses[0] ?? '').split(':')[1]);
  const client = await connectTo(port);
  client.write('hi');
  await eventually(() => (listener.pool.get(echo.address)?.active === 1 ? true : undefined));
  // The backend leaves discovery while the connection is open.
  listener.pool.applySnapshot({ endpoints: [], updatedAtMs: 0 });
  const done = readAll(client);
  client.end();
  await done;
  await eventually(() => (listener.activeConnections === 0 ? true : undefined));
  const text = await metrics.registry.metrics();
  await app.shutdown();
  await echo.close();
  expect(listener.pool.get(echo.address)).toBeUndefined();
  expect(text).not.toContain(`backend="${echo.address}"`);
});
