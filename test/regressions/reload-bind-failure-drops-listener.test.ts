/**
 * Defect (issue 15, item 1): a reload whose new address could not be bound
 * took the listener down. `Listener.reconfigure()` closed the old socket
 * before binding the new one; on failure the listener had no socket,
 * /readyz still said ready, and reloading the old file back was "no change".
 * Now a reload is all or nothing: the old socket serves until the new one is
 * bound, a failure keeps everything as it was, and it is logged and counted
 * (`headway_config_reload_total{result}`, `headway_config_last_reload_success`).
 * A listener without a bound socket makes /readyz fail.
 */
import { afterEach, expect, it } from 'vitest';
import { readinessOf } from '../../src/app/lifecycle.ts';
import type { BackendPool } from '../../src/backends/backend-pool.ts';
import {
  metric,
  readyz,
  startConfigured,
  tempConfig,
  type ConfiguredProxy,
} from '../helpers/reload.ts';
import {
  refusedPort,
  startServer,
  startWhoami,
  whoAnswers,
  type Backend,
} from '../helpers/sockets.ts';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

it('keeps serving on the old address when the new one cannot be bound, and says so', async () => {
  const who = await startWhoami('127.0.0.1');
  const squatter: Backend = await startServer((s) => s.destroy());
  cleanup.push(
    () => who.close(),
    () => squatter.close(),
  );
  const port = await refusedPort();
  const file = (listen: string): string[] => [
    'admin: 127.0.0.1:0',
    'listeners:',
    '  - name: db',
    `    listen: ${listen}`,
    `    backends: static://${who.address}`,
  ];
  const config = tempConfig(file(`127.0.0.1:${port}`));
  const p: ConfiguredProxy = await startConfigured(config.path);
  cleanup.push(() => p.stop());
  await p.waitForLog((l) => l.msg === 'listener started');

  // Another process holds the new address: the reload must fail and change nothing.
  config.write(file(`127.0.0.1:${squatter.port}`));
  const failed = await p.sighup();
  const still = await whoAnswers(port);
  expect(still.who).toBe('127.0.0.1');
  still.socket.destroy();
  expect(failed.msg).toBe('config reload failed; keeping the running configuration');
  expect(String(failed.error)).toMatch(/another process/);
  expect(await readyz(p.adminUrl)).toBe(200);
  expect(await metric(p.adminUrl, 'headway_config_reload_total', 'result="failure"')).toBe(1);
  expect(await metric(p.adminUrl, 'headway_config_last_reload_success')).toBe(0);

  // Back to the running file: nothing to apply, and a success again.
  config.write(file(`127.0.0.1:${port}`));
  const back = await p.sighup();
  expect(back.msg).toBe('config unchanged; nothing to apply');
  expect(await metric(p.adminUrl, 'headway_config_last_reload_success')).toBe(1);
  const again = await whoAnswers(port);
  expect(again.who).toBe('127.0.0.1');
  again.socket.destroy();
});

it('fails /readyz for a listener that holds no bound socket', () => {
  const pool = { hasUsableBackend: true } as unknown as BackendPool;
  expect(
    readinessOf({ started: true, shuttingDown: false, requireBackends: false }, [
      { name: 'db', pool, listening: false },
    ]),
  ).toEqual({ ready: false, reason: 'no bound socket for db' });
});
