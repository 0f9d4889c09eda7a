import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { afterEach, expect, it } from 'vitest';
import { startProxy, type RunningProxy } from '../helpers/headway-process.ts';
import { requireProgram } from '../helpers/required-programs.ts';
import { connectTo, readAll, startEcho, type Backend } from '../helpers/sockets.ts';

/**
 * Defect: the admin server had no connection cap and Node's default header
 * timeout (60 s, checked every 30 s). At `ulimit -n 512`, 600 slow
 * half-open admin requests took every file descriptor and the proxy
 * stopped serving. Now the admin endpoint holds at most 64 connections
 * (a new one evicts the oldest idle or unfinished one) and closes a
 * connection whose request head is not complete within 5 s.
 */

let proxy: RunningProxy | undefined;
let echo: Backend | undefined;
const held: Socket[] = [];

afterEach(async () => {
  for (const s of held.splice(0)) s.destroy();
  await proxy?.stop();
  await echo?.close();
});

function openSlow(port: number): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port });
  s.on('error', () => undefined);
  s.resume();
  held.push(s);
  // An unfinished request head, as a slowloris client sends it.
  s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
  return once(s, 'connect').then(() => s);
}

function isOpen(s: Socket): boolean {
  return !s.destroyed && s.readyState === 'open';
}

async function echoOnce(port: number): Promise<string> {
  const s = await connectTo(port);
  s.end('ping');
  return (await readAll(s)).toString();
}

it('keeps the data path and the probes working under 300 slow admin clients at a 256 fd limit', async () => {
  requireProgram('prlimit');
  echo = await startEcho();
  proxy = await startProxy(['--backends', `static://${echo.address}`], {}, (argv) => [
    'prlimit',
    '--nofile=256:256',
    '--',
    ...argv,
  ]);
  const adminPort = Number(new URL(proxy.adminUrl).port);
  for (let i = 0; i < 300; i++) await openSlow(adminPort);
  // Let the server accept (and evict) them all.
  await new Promise((r) => setTimeout(r, 1000));
  const stillOpen = held.filter(isOpen).length;
  expect(stillOpen).toBeLessThanOrEqual(64);
  // The proxy still relays, and a probe still gets through (evicting the oldest slow client).
  expect(await echoOnce(proxy.port)).toBe('ping');
  const probe = await fetch(`${proxy.adminUrl}/healthz`, { signal: AbortSignal.timeout(5000) });
  expect(probe.status).toBe(200);
});

it('closes an admin connection whose request head never completes', async () => {
  echo = await startEcho();
  proxy = await startProxy(['--backends', `static://${echo.address}`]);
  const s = await openSlow(Number(new URL(proxy.adminUrl).port));
  const closedBy = await Promise.race([
    once(s, 'close').then(() => 'server'),
    new Promise((r) => setTimeout(() => r('timeout'), 20_000)),
  ]);
  expect(closedBy).toBe('server');
}, 30_000);
