/**
 * Defect (issue 15, item 15): `--watch-config` stopped silently when its
 * directory was removed and recreated (inotify drops the watch). Now the
 * watcher notices, says so in the log, polls for the directory, watches it
 * again when it is back, and reloads what it then finds.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { afterEach, expect, it } from 'vitest';
import { startConfigured, tempConfig } from '../helpers/reload.ts';
import { connectTo, eventually, refusedPort, startWhoami } from '../helpers/sockets.ts';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

it('keeps watching after its directory is removed and recreated, and says so', async () => {
  const who = await startWhoami('127.0.0.1');
  cleanup.push(() => who.close());
  const [p1, p2, p3] = [await refusedPort(), await refusedPort(), await refusedPort()];
  const file = (port: number): string[] => [
    'admin: 127.0.0.1:0',
    'listeners:',
    '  - name: w',
    `    listen: 127.0.0.1:${port}`,
    `    backends: static://${who.address}`,
  ];
  const config = tempConfig(file(p1));
  const p = await startConfigured(config.path, ['--watch-config']);
  cleanup.push(() => p.stop());
  await p.waitForLog((l) => l.msg === 'listener started');
  await new Promise((r) => setTimeout(r, 500)); // the watcher starts right after the listeners

  rmSync(config.dir, { recursive: true });
  await new Promise((r) => setTimeout(r, 300));
  mkdirSync(config.dir);
  config.write(file(p2));
  // The recreated directory's file is picked up...
  await eventually(
    async () => {
      const s = await connectTo(p2).catch(() => undefined);
      s?.destroy();
      return s === undefined ? undefined : true;
    },
    15_000,
    100,
  );
  // ...and the log said what happened.
  expect(p.logs.some((l) => /^config directory .*polling for it$/.test(String(l.msg)))).toBe(true);
  await p.waitForLog((l) => l.msg === 'config directory is back; watching it again');

  // And it really watches again: a later change is applied too.
  const mark = p.logs.length;
  config.write(file(p3));
  await p.waitForLog((l) => l.msg === 'config reloaded' && p.logs.indexOf(l) >= mark);
  (await connectTo(p3)).destroy();
  await expect(connectTo(p1)).rejects.toThrow();
  expect(p.since(0, 'config reloaded')).toHaveLength(2);
});
