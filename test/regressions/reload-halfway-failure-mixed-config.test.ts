/**
 * Defect (issue 15, item 2): a reload that failed halfway left a mixed
 * configuration. Removed listeners were drained before added ones were
 * bound, and the first bind failure stopped the rest: the proxy ran half
 * the old file and half the new one. Now every new address is bound before
 * anything is switched or drained; on failure all listeners are as they were.
 */
import { afterEach, expect, it } from 'vitest';
import { readyz, startConfigured, tempConfig } from '../helpers/reload.ts';
import {
  connectTo,
  refusedPort,
  startServer,
  startWhoami,
  whoAnswers,
} from '../helpers/sockets.ts';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

it('a reload that cannot bind its last listener changes none of them', async () => {
  const a = await startWhoami('127.0.0.31');
  const b = await startWhoami('127.0.0.32');
  const c = await startWhoami('127.0.0.33');
  const squatter = await startServer((s) => s.destroy());
  cleanup.push(
    () => a.close(),
    () => b.close(),
    () => c.close(),
    () => squatter.close(),
  );
  const [pa, pb, pc] = [await refusedPort(), await refusedPort(), await refusedPort()];
  const config = tempConfig([
    'admin: 127.0.0.1:0',
    'listeners:',
    '  - name: a',
    `    listen: 127.0.0.1:${pa}`,
    `    backends: static://${a.address}`,
    '  - name: b',
    `    listen: 127.0.0.1:${pb}`,
    `    backends: static://${b.address}`,
  ]);
  const p = await startConfigured(config.path);
  cleanup.push(() => p.stop());
  await p.waitForLog((l) => l.msg === 'listener started' && l.listener === 'b');

  // Remove a, add c, change b (new backend, and an address another process holds).
  config.write([
    'admin: 127.0.0.1:0',
    'listeners:',
    '  - name: c',
    `    listen: 127.0.0.1:${pc}`,
    `    backends: static://${c.address}`,
    '  - name: b',
    `    listen: 127.0.0.1:${squatter.port}`,
    `    backends: static://${c.address}`,
  ]);
  const outcome = await p.sighup();
  // a still serves, b still serves its old backend on its old address, c never opened.
  const viaA = await whoAnswers(pa);
  expect(viaA.who).toBe('127.0.0.31');
  viaA.socket.destroy();
  const viaB = await whoAnswers(pb);
  expect(viaB.who).toBe('127.0.0.32');
  viaB.socket.destroy();
  await expect(connectTo(pc)).rejects.toThrow();
  expect(await readyz(p.adminUrl)).toBe(200);
  expect(p.logs.some((l) => l.msg === 'listener started' && l.listener === 'c')).toBe(false);
  expect(outcome.msg).toBe('config reload failed; keeping the running configuration');
});
