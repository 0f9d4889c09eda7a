/**
 * Defect (issue 16, item 1): the README's dual-stack example
 * `--listen 0.0.0.0:P --listen [::]:P` exited 1 with "address already in use
 * (another process is listening there)": `[::]` was always bound dual-stack
 * and collided with the process's own IPv4 socket. Now `[::]:P` beside an
 * IPv4 address on P is bound IPv6-only (as NGINX does), `[::]:P` alone stays
 * dual-stack, `--listen-v6only` decides explicitly, and a conflict inside
 * one process names the other listener.
 */
import { afterEach, expect, it } from 'vitest';
import { runHeadway, spawnHeadway } from '../helpers/headway-process.ts';
import { tempConfig } from '../helpers/reload.ts';
import { refusedPort, startWhoami, whoAnswers } from '../helpers/sockets.ts';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

it('0.0.0.0:P plus [::]:P starts and serves IPv4 and IPv6; [::]:P alone is dual-stack', async () => {
  const who = await startWhoami('127.0.0.1');
  cleanup.push(() => who.close());
  const port = await refusedPort();
  const both = spawnHeadway([
    '--listen',
    `0.0.0.0:${port}`,
    '--listen',
    `[::]:${port}`,
    '--admin',
    'off',
    '--health-check',
    'none',
    '--backends',
    `static://${who.address}`,
  ]);
  cleanup.push(() => both.stop());
  const started = await both.waitForLog((l) => l.msg === 'listener started');
  expect(started.addresses).toEqual([`0.0.0.0:${port}`, `[::]:${port}`]);
  for (const host of ['127.0.0.1', '::1']) {
    const r = await whoAnswers(port, host);
    expect(r.who).toBe('127.0.0.1');
    r.socket.destroy();
  }
  await both.stop();

  const alone = spawnHeadway([
    '--listen',
    `[::]:${port}`,
    '--admin',
    'off',
    '--health-check',
    'none',
    '--backends',
    `static://${who.address}`,
  ]);
  cleanup.push(() => alone.stop());
  await alone.waitForLog((l) => l.msg === 'listener started');
  const v4 = await whoAnswers(port, '127.0.0.1');
  expect(v4.who).toBe('127.0.0.1');
  v4.socket.destroy();
  await alone.stop();

  // --listen-v6only on: IPv4 clients are not taken by [::]:P.
  const v6only = spawnHeadway([
    '--listen',
    `[::]:${port}`,
    '--listen-v6only',
    'on',
    '--admin',
    'off',
    '--health-check',
    'none',
    '--backends',
    `static://${who.address}`,
  ]);
  cleanup.push(() => v6only.stop());
  await v6only.waitForLog((l) => l.msg === 'listener started');
  await expect(whoAnswers(port, '127.0.0.1')).rejects.toThrow();
  const v6 = await whoAnswers(port, '::1');
  expect(v6.who).toBe('127.0.0.1');
  v6.socket.destroy();
});

it('a conflict between two listeners of one process names the other listener', async () => {
  const port = await refusedPort();
  // `localhost` is a name: validation cannot see that it is 127.0.0.1, the bind does.
  const { path } = tempConfig([
    'admin: off',
    'listeners:',
    '  - name: primary',
    `    listen: 127.0.0.1:${port}`,
    '    backends: static://127.0.0.1:1',
    '  - name: replica',
    `    listen: localhost:${port}`,
    '    backends: static://127.0.0.1:2',
  ]);
  const r = await runHeadway(['--config', path, '--health-check', 'none']);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/address already in use by listener "primary" of this process/);
  expect(r.stderr).not.toMatch(/another process/);
});
