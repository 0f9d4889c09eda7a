/**
 * Defect (issue 15 item 16): after the access log's directory was removed, a SIGUSR1 reopen failed
 * and the log went on writing to the old descriptor, a file no longer at any path: those lines
 * were lost without a trace, counted as written and not in headway_access_log_dropped_total. Now
 * they are refused and counted as dropped, and the log resumes at its path once the directory is
 * back (retried every second, no second signal needed).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/headway-process.ts';
import { connectTo, eventually, metricValue, readAll, startEcho } from '../helpers/sockets.ts';

async function oneConnection(port: number): Promise<void> {
  const s = await connectTo(port);
  s.end('x');
  await readAll(s);
}

async function dropped(adminUrl: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  return metricValue(text, 'headway_access_log_dropped_total');
}

describe('access log without its directory', () => {
  it('counts the lines it cannot write, and resumes when the directory is back', async () => {
    const echo = await startEcho();
    const dir = join(mkdtempSync(join(tmpdir(), 'headway-al-dir-')), 'logs');
    mkdirSync(dir);
    const path = join(dir, 'access.log');
    const proxy = await startProxy([
      '--access-log',
      path,
      '--backends',
      `static://${echo.address}`,
    ]);
    try {
      await oneConnection(proxy.port);
      await eventually(() =>
        existsSync(path) && readFileSync(path, 'utf8') !== '' ? true : undefined,
      );
      rmSync(dir, { recursive: true });
      proxy.proc.kill('SIGUSR1');
      await proxy.waitForLog((l) => l.msg === 'access log write failed');
      for (let i = 0; i < 3; i++) await oneConnection(proxy.port);
      await eventually(async () => ((await dropped(proxy.adminUrl)) >= 3 ? true : undefined));
      expect(await dropped(proxy.adminUrl)).toBe(3);

      mkdirSync(dir);
      // The retry reopens the path; lines logged after that land in the new file.
      await eventually(
        async () => {
          await oneConnection(proxy.port);
          return existsSync(path) && readFileSync(path, 'utf8') !== '' ? true : undefined;
        },
        15_000,
        500,
      );
    } finally {
      await proxy.stop();
      await echo.close();
    }
  });
});
