import { existsSync, mkdtempSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/headway-process.ts';
import {
  closed,
  connectTo,
  eventually,
  readAll,
  startEcho,
  startServer,
} from '../helpers/sockets.ts';

function lines(path: string): Record<string, unknown>[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('access log', () => {
  it('writes one correct JSON line per closed connection, and reopens on SIGUSR1', async () => {
    const echo = await startEcho();
    const resetter = await startServer((s) => {
      s.on('error', () => undefined);
      s.once('data', () => s.resetAndDestroy());
    });
    const dir = mkdtempSync(join(tmpdir(), 'headway-access-'));
    const path = join(dir, 'access.log');
    const proxy = await startProxy([
      '--name',
      'edge',
      '--access-log',
      path,
      '--backends',
      `static://${echo.address}`,
    ]);
    const resetProxy = await startProxy([
      '--access-log',
      join(dir, 'reset.log'),
      '--backends',
      `static://${resetter.address}`,
    ]);
    try {
      const s = await connectTo(proxy.port);
      s.end('hello world');
      expect((await readAll(s)).toString()).toBe('hello world');
      const [line] = await eventually(() => {
        const l = lines(path);
        return l.length === 1 ? l : undefined;
      });
      expect(line).toMatchObject({
        listener: 'edge',
        peerAddress: '127.0.0.1',
        clientAddress: null,
        backendId: echo.address,
        backendAddress: echo.address,
        bytesFromClient: 11,
        bytesFromBackend: 11,
        retries: 0,
        outcome: 'ok',
        closedFirst: 'client',
      });
      expect(line?.connectMs).toEqual(expect.any(Number));
      expect(line?.firstByteMs).toEqual(expect.any(Number));
      expect(Date.parse(String(line?.time))).not.toBeNaN();

      const r = await connectTo(resetProxy.port);
      r.write('boom');
      await closed(r);
      const [resetLine] = await eventually(() => {
        const l = lines(join(dir, 'reset.log'));
        return l.length === 1 ? l : undefined;
      });
      expect(resetLine).toMatchObject({ outcome: 'reset', closedFirst: 'backend' });

      // Log rotation: move the file away, SIGUSR1, and new lines go to a new file.
      renameSync(path, `${path}.1`);
      proxy.proc.kill('SIGUSR1');
      await new Promise((res) => setTimeout(res, 200));
      const t = await connectTo(proxy.port);
      t.end('again');
      await readAll(t);
      await eventually(() => (lines(path).length === 1 ? true : undefined));
      expect(lines(`${path}.1`)).toHaveLength(1);
    } finally {
      await proxy.stop();
      await resetProxy.stop();
      await echo.close();
      await resetter.close();
    }
  });

  it('an unwritable access log path exits 2 naming the flag', async () => {
    const { runHeadway } = await import('../helpers/headway-process.ts');
    const r = await runHeadway([
      '--listen',
      '127.0.0.1:0',
      '--admin',
      'off',
      '--access-log',
      '/nonexistent/dir/access.log',
      '--backends',
      'static://127.0.0.1:1',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^headway: --access-log: cannot open/);
  });
});
