/**
 * Defect (issue 16, item 2): `--watch-config` reloaded in an endless loop
 * when anything else in the config's directory changed, Headway's own
 * access log included (one `touch` gave about 4 reloads a second, forever).
 * Now only the file itself and a ConfigMap's `..data` symlink swap count,
 * content is compared (hash) before reloading, events are debounced, and
 * unchanged content never logs "config reloaded".
 */
import { mkdirSync, renameSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { RELOAD_OUTCOMES, startConfigured, tempConfig } from '../helpers/reload.ts';
import { connectTo, refusedPort, startWhoami, whoAnswers } from '../helpers/sockets.ts';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

it('ignores its own access log and other files, and a touch of the file itself', async () => {
  const who = await startWhoami('127.0.0.1');
  cleanup.push(() => who.close());
  const port = await refusedPort();
  const config = tempConfig([]);
  const lines = [
    'admin: 127.0.0.1:0',
    `access-log: ${join(config.dir, 'access.log')}`,
    'listeners:',
    '  - name: w',
    `    listen: 127.0.0.1:${port}`,
    `    backends: static://${who.address}`,
  ];
  config.write(lines);
  const p = await startConfigured(config.path, ['--watch-config']);
  cleanup.push(() => p.stop());
  await p.waitForLog((l) => l.msg === 'listener started');
  await sleep(500); // the watcher starts right after the listeners
  const mark = p.logs.length;
  // Traffic writes the access log in the watched directory; other files come and go.
  for (let i = 0; i < 5; i++) {
    const r = await whoAnswers(port);
    r.socket.destroy();
    writeFileSync(join(config.dir, `scratch-${i}.tmp`), 'x');
    const now = new Date();
    utimesSync(config.path, now, now); // touch: same content
    await sleep(150);
  }
  await sleep(1500);
  const outcomes = p.logs.slice(mark).filter((l) => RELOAD_OUTCOMES.has(l.msg ?? ''));
  expect(outcomes).toEqual([]);

  // A real change is still seen, once.
  const port2 = await refusedPort();
  config.write([
    ...lines,
    '  - name: x',
    `    listen: 127.0.0.1:${port2}`,
    `    backends: static://${who.address}`,
  ]);
  await p.waitForLog((l) => l.msg === 'config reloaded' && p.logs.indexOf(l) >= mark);
  await sleep(1500);
  expect(p.since(mark, 'config reloaded')).toHaveLength(1);
  (await connectTo(port2)).destroy();
});

it('reloads on a ConfigMap-style ..data symlink swap', async () => {
  const who = await startWhoami('127.0.0.1');
  cleanup.push(() => who.close());
  const [p1, p2] = [await refusedPort(), await refusedPort()];
  const config = tempConfig([]);
  // The kubelet's layout: file -> ..data/file, ..data -> ..<timestamp>/
  const version = (name: string, port: number): void => {
    mkdirSync(join(config.dir, name));
    writeFileSync(
      join(config.dir, name, 'headway.yaml'),
      [
        'admin: 127.0.0.1:0',
        'listeners:',
        '  - name: k',
        `    listen: 127.0.0.1:${port}`,
        `    backends: static://${who.address}`,
      ].join('\n'),
    );
  };
  const path = join(config.dir, 'live.yaml');
  version('..v1', p1);
  symlinkSync('..v1', join(config.dir, '..data'));
  symlinkSync('..data/headway.yaml', path);
  const p = await startConfigured(path, ['--watch-config']);
  cleanup.push(() => p.stop());
  await p.waitForLog((l) => l.msg === 'watching the config file for changes');
  version('..v2', p2);
  symlinkSync('..v2', join(config.dir, '..data_tmp'));
  renameSync(join(config.dir, '..data_tmp'), join(config.dir, '..data'));
  await p.waitForLog((l) => l.msg === 'config reloaded');
  (await connectTo(p2)).destroy();
  await expect(connectTo(p1)).rejects.toThrow();
});
