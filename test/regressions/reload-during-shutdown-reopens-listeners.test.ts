/**
 * Defect (issue 15, item 4): a reload during shutdown reopened listeners.
 * After SIGTERM (during --shutdown-delay, /readyz 503), a SIGHUP or a
 * --watch-config change started a new listener that accepted connections.
 * Once shutdown has started, reloads are refused and logged.
 */
import { afterEach, expect, it } from 'vitest';
import { metric, readyz, startConfigured, tempConfig } from '../helpers/reload.ts';
import { connectTo, refusedPort, startWhoami } from '../helpers/sockets.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

it('refuses SIGHUP and watched changes after SIGTERM: no listener opens', async () => {
  const who = await startWhoami('127.0.0.1');
  cleanup.push(() => who.close());
  const [p1, p2] = [await refusedPort(), await refusedPort()];
  const listener = (name: string, port: number): string[] => [
    `  - name: ${name}`,
    `    listen: 127.0.0.1:${port}`,
    `    backends: static://${who.address}`,
  ];
  const head = ['admin: 127.0.0.1:0', 'shutdown-delay: 8s', 'listeners:'];
  const config = tempConfig([...head, ...listener('a', p1)]);
  const p = await startConfigured(config.path, ['--watch-config']);
  cleanup.push(() => p.stop('SIGKILL'));
  await p.waitForLog((l) => l.msg === 'listener started');
  await sleep(500); // the watcher starts right after the listeners

  p.proc.kill('SIGTERM');
  await p.waitForLog((l) => l.msg === 'shutting down');
  expect(await readyz(p.adminUrl)).toBe(503);
  const mark = p.logs.length;
  // A ConfigMap update while the pod terminates: the watcher sees it, and a SIGHUP follows.
  config.write([...head, ...listener('a', p1), ...listener('b', p2)]);
  await sleep(1000);
  p.proc.kill('SIGHUP');
  await sleep(800);
  await expect(connectTo(p2)).rejects.toThrow();
  expect(p.since(mark, 'listener started')).toEqual([]);
  expect(p.since(mark, 'config reload refused: shutting down')).toHaveLength(2);
  expect(await metric(p.adminUrl, 'headway_config_reload_total', 'result="refused"')).toBe(2);
  expect(await metric(p.adminUrl, 'headway_config_reload_total', 'result="success"')).toBe(0);
});
