/**
 * Defect (issue 16 item 15): `headway bench` did not say where it wrote --json/--html, nor how long
 * the whole run would take (duration × targets + warm-up) before starting it, and a target that
 * accepts connections but never echoes only got "completed nothing". Now the plan and its total
 * time come first on stderr, each written file is named, and a silent target is called out as
 * "no echo: is this an echo server?".
 */
import { mkdtempSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runHeadway } from '../helpers/headway-process.ts';
import { startEcho } from '../helpers/sockets.ts';

/** Accepts connections and reads, never writes: not an echo server. */
async function startSilent(): Promise<{ address: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    s.resume();
  });
  server.listen({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return {
    address: `127.0.0.1:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}

describe('headway bench messages', () => {
  it('states the total time first, names the files it wrote', async () => {
    const echo = await startEcho();
    const dir = mkdtempSync(join(tmpdir(), 'headway-bench-msg-'));
    const json = join(dir, 'r.json');
    const html = join(dir, 'r.html');
    try {
      const r = await runHeadway([
        'bench',
        'rr',
        '--target',
        `a=${echo.address}`,
        '--target',
        `b=${echo.address}`,
        '--duration',
        '400ms',
        '--warmup',
        '100ms',
        '--json',
        json,
        '--html',
        html,
      ]);
      expect(r.code).toBe(0);
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      // 2 targets × (400ms + 100ms warm-up) = 1s.
      expect(lines[0]).toMatch(/^headway: bench rr: 2 targets × \(400ms \+ 100ms warm-up\) = 1s/);
      expect(lines).toContain(`headway: bench: wrote the JSON report to ${resolve(json)}`);
      expect(lines).toContain(`headway: bench: wrote the HTML report to ${resolve(html)}`);
    } finally {
      await echo.close();
    }
  });

  it('a target that never echoes says so', async () => {
    const silent = await startSilent();
    try {
      const r = await runHeadway([
        'bench',
        'rr',
        '--target',
        silent.address,
        '--duration',
        '300ms',
        '--warmup',
        '0',
        '--timeout',
        '100ms',
      ]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/no echo: is this an echo server\?/);
    } finally {
      await silent.close();
    }
  });
});
