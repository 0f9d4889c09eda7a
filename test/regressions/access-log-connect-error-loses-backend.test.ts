/**
 * Defect (issue 16 item 14): an access-log record with outcome connect_error carried
 * `backendId: null` and `backendAddress: null`, although the field is documented as the backend
 * of the last attempt: a failed attempt cleared the session's backend before the record was built.
 * The record now names the last backend tried and carries `attempts`, the number of connection
 * attempts made.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/headway-process.ts';
import { closed, connectTo, eventually, refusedPort } from '../helpers/sockets.ts';

function records(path: string): Record<string, unknown>[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('access log: connect_error', () => {
  it('names the last backend tried and the number of attempts', async () => {
    const a = await refusedPort();
    const b = await refusedPort();
    const dir = mkdtempSync(join(tmpdir(), 'headway-access-ce-'));
    const path = join(dir, 'access.log');
    const proxy = await startProxy([
      '--access-log',
      path,
      '--strategy',
      'round-robin',
      '--connect-retries',
      '1',
      '--eject-after',
      '0',
      '--backends',
      `static://127.0.0.1:${a},127.0.0.1:${b}`,
    ]);
    try {
      const s = await connectTo(proxy.port);
      await closed(s);
      const [rec] = await eventually(() => {
        const l = records(path);
        return l.length === 1 ? l : undefined;
      });
      expect(rec?.outcome).toBe('connect_error');
      expect(rec?.attempts).toBe(2);
      expect(rec?.retries).toBe(1);
      expect([`127.0.0.1:${a}`, `127.0.0.1:${b}`]).toContain(rec?.backendId);
      expect(rec?.backendAddress).toBe(rec?.backendId);
      expect(rec?.connectMs).toBeNull();
    } finally {
      await proxy.stop();
    }
  });

  it('a connection that never reached a backend has attempts 0 and no backend', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'headway-access-nb-'));
    const path = join(dir, 'access.log');
    const proxy = await startProxy([
      '--access-log',
      path,
      '--deny',
      '127.0.0.0/8',
      '--backends',
      'static://127.0.0.1:9',
    ]);
    try {
      const s = await connectTo(proxy.port);
      await closed(s);
      const [rec] = await eventually(() => {
        const l = records(path);
        return l.length === 1 ? l : undefined;
      });
      expect(rec).toMatchObject({ outcome: 'denied', attempts: 0, backendId: null });
    } finally {
      await proxy.stop();
    }
  });
});
