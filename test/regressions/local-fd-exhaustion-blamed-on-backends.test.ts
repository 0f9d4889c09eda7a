/**
 * Regression (issue 15, item 6): EMFILE/ENFILE/ENOBUFS on the proxy's own
 * upstream sockets and health-check sockets counted as backend failures:
 * healthy backends were ejected or failed their checks, the listener went
 * into panic mode, and with --close-on-down established sessions to healthy
 * backends were cut. Now local resource errors are local:
 * outcome="local_error", headway_local_errors_total{kind}, a rate-limited
 * warning, and nothing counted against any backend.
 *
 * The fd table is filled by lowering the running proxy's open-files limit
 * (prlimit --pid) to what it has open, as a leak elsewhere in the process would.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startProxy, type RunningProxy } from '../helpers/headway-process.ts';
import { requireProgram } from '../helpers/required-programs.ts';
import { connectTo, eventually, getJson, metricValue, startEcho } from '../helpers/sockets.ts';

/** The proxy's open fd numbers. */
function openFds(pid: number): number[] {
  return readdirSync(`/proc/${pid}/fd`).map(Number);
}

/**
 * The open-files limit that leaves exactly `free` fd numbers unused below
 * it (the kernel gives out the lowest free number, and refuses one at or
 * over the limit), taken over a few readings so a socket briefly open
 * during one of them does not leave a number free.
 */
async function limitLeaving(pid: number, free: number): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const open = new Set(openFds(pid));
    let holes = 0;
    let limit = 0;
    for (; ; limit++) {
      if (!open.has(limit)) {
        if (holes === free) break;
        holes++;
      }
    }
    best = Math.min(best, limit);
    await new Promise((r) => setTimeout(r, 50));
  }
  return best;
}

/** Lower (or restore) the soft limit only: raising a hard limit needs a privilege. */
function setFdLimit(pid: number, soft: number): void {
  const r = spawnSync('prlimit', ['--pid', String(pid), `--nofile=${soft}:`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`prlimit failed: ${r.stderr}`);
}

function fdLimitOf(pid: number): number {
  const r = spawnSync(
    'prlimit',
    ['--pid', String(pid), '--nofile', '--raw', '--noheadings', '-o', 'SOFT'],
    {
      encoding: 'utf8',
    },
  );
  return Number(r.stdout.trim());
}

async function metrics(proxy: RunningProxy): Promise<string> {
  return (await fetch(`${proxy.adminUrl}/metrics`)).text();
}

async function echoes(s: Socket, text: string): Promise<boolean> {
  s.write(text);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), 5000);
    s.once('data', (d: Buffer) => {
      clearTimeout(timer);
      resolve(d.toString() === text);
    });
    s.once('close', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

describe('local fd exhaustion', () => {
  it('on an upstream connect: the client is closed as local_error; the backend is not blamed', async () => {
    requireProgram('prlimit');
    const echo = await startEcho();
    const proxy = await startProxy([
      '--eject-after',
      '1',
      '--connect-retries',
      '2',
      '--backends',
      `static://${echo.address}`,
    ]);
    try {
      const first = await connectTo(proxy.port);
      expect(await echoes(first, 'warm')).toBe(true);
      first.destroy();
      await new Promise((r) => setTimeout(r, 6000)); // admin keep-alive sockets close
      const original = fdLimitOf(proxy.pid);
      // One fd left: the accept gets it, the upstream socket cannot.
      setFdLimit(proxy.pid, await limitLeaving(proxy.pid, 1));
      const victim = await connectTo(proxy.port);
      victim.on('error', () => undefined);
      expect(await echoes(victim, 'ping')).toBe(false);
      victim.destroy();
      setFdLimit(proxy.pid, original);
      const text = await eventually(async () => {
        const t = await metrics(proxy);
        return metricValue(t, 'headway_connections_total', { outcome: 'local_error' }) >= 1
          ? t
          : undefined;
      });
      expect(metricValue(text, 'headway_local_errors_total', { kind: 'emfile' })).toBeGreaterThan(
        0,
      );
      expect(metricValue(text, 'headway_backend_ejections_total')).toBe(0);
      expect(metricValue(text, 'headway_panic_total')).toBe(0);
      const report = await getJson<{ listeners: { backends: { failures: number }[] }[] }>(
        `${proxy.adminUrl}/backends`,
      );
      expect(report.listeners[0]?.backends[0]?.failures).toBe(0);
      expect(proxy.logs.some((l) => String(l.msg).startsWith('local resource error'))).toBe(true);
      // And the proxy serves again once fds are back.
      const after = await connectTo(proxy.port);
      expect(await echoes(after, 'again')).toBe(true);
      after.destroy();
    } finally {
      await proxy.stop();
      await echo.close();
    }
  });

  it('on health checks: the backend stays healthy and --close-on-down cuts nothing', async () => {
    requireProgram('prlimit');
    const echo = await startEcho();
    const proxy = await startProxy([
      '--health-check',
      'tcp',
      '--health-interval',
      '200ms',
      '--health-fall',
      '1',
      '--close-on-down',
      'on',
      '--backends',
      `static://${echo.address}`,
    ]);
    try {
      const session = await connectTo(proxy.port);
      session.on('error', () => undefined);
      expect(await echoes(session, 'before')).toBe(true);
      await new Promise((r) => setTimeout(r, 6000)); // admin keep-alive sockets close
      const original = fdLimitOf(proxy.pid);
      // Not one fd free: every probe meets EMFILE.
      setFdLimit(proxy.pid, await limitLeaving(proxy.pid, 0));
      await new Promise((r) => setTimeout(r, 2000));
      setFdLimit(proxy.pid, original);
      const text = await metrics(proxy);
      expect(proxy.logs.some((l) => l.msg === 'backend failed its health checks')).toBe(false);
      expect(metricValue(text, 'headway_backend_healthy')).toBe(1);
      // The established session to the healthy backend was not cut.
      expect(await echoes(session, 'after')).toBe(true);
      expect(metricValue(text, 'headway_local_errors_total', { kind: 'emfile' })).toBeGreaterThan(
        0,
      );
      session.destroy();
    } finally {
      await proxy.stop();
      await echo.close();
    }
  });
});
