/**
 * Defect (issue 16, item 4): a reload silently ignored what it could not
 * apply: changing `admin:` or `log:` logged "config reloaded" and applied
 * nothing. Now a reload names what it applied, warns per option what needs
 * a restart, and exposes `headway_config_last_reload_success` and
 * `headway_config_last_reload_timestamp_seconds`.
 */
import { afterEach, expect, it } from 'vitest';
import { metric, startConfigured, tempConfig } from '../helpers/reload.ts';
import { startWhoami } from '../helpers/sockets.ts';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

it('warns per option that needs a restart, names what it applied, and stamps the reload', async () => {
  const who = await startWhoami('127.0.0.1');
  cleanup.push(() => who.close());
  const listener = [
    'listeners:',
    '  - name: r',
    '    listen: 127.0.0.1:0',
    `    backends: static://${who.address}`,
  ];
  const config = tempConfig(['admin: 127.0.0.1:0', 'log: { format: json }', ...listener]);
  const p = await startConfigured(config.path);
  cleanup.push(() => p.stop());
  await p.waitForLog((l) => l.msg === 'listener started');

  // Only options that need a restart (the text log format takes effect after a restart,
  // so these logs stay JSON): each is named, and nothing claims to be reloaded.
  const mark = p.logs.length;
  config.write(['admin: 127.0.0.2:0', 'log: { format: text }', ...listener]);
  const outcome = await p.sighup();
  expect(outcome.msg).toBe('config reload applied nothing; the changed options need a restart');
  const warned = p
    .since(mark, 'config option changed; it applies after a restart')
    .map((l) => l.option);
  expect(warned.sort()).toEqual(['admin', 'log-format']);
  expect(p.since(mark, 'config reloaded')).toEqual([]);

  // A live change with a restart-only one: the reloaded line names both.
  await new Promise((r) => setTimeout(r, 1100));
  config.write([
    'admin: 127.0.0.2:0',
    'log: { format: text }',
    'drain-timeout: 5s',
    ...listener.slice(0, 4),
    '    connect-timeout: 2s',
  ]);
  const mixed = await p.sighup();
  expect(mixed.msg).toBe('config reloaded');
  expect(mixed.applied).toEqual(['r.connect-timeout', 'drain-timeout']);
  expect(mixed.needsRestart).toEqual(['admin', 'log-format']);
  expect(await metric(p.adminUrl, 'headway_config_last_reload_success')).toBe(1);
  expect(await metric(p.adminUrl, 'headway_config_reload_total', 'result="success"')).toBe(2);
  const stamped = await metric(p.adminUrl, 'headway_config_last_reload_timestamp_seconds');
  expect(stamped).toBeGreaterThan(Date.now() / 1000 - 60);
  const started = p.logs.find((l) => l.msg === 'listener started');
  expect(stamped).toBeGreaterThan(Date.parse(String(started?.time)) / 1000);
});
