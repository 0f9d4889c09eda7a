/**
 * Defect (issue 19, found by the capacity fault test): backend sockets get
 * their TCP keepalive one to two seconds after connecting, from a list the
 * route keeps until its next tick. A socket that closed stayed in that list
 * until then, and with it its whole session (the session, both sockets, the
 * dial and closing state): at 6,000 connections a second, about 12,000 closed
 * sessions were alive at any time, and the heap measured after a batch of
 * connections depended on how recently the batch ended (+3 MiB in CI). Now a
 * closing backend socket is dropped from the list at once.
 *
 * Seen from outside: a heap snapshot taken right after a burst of short
 * connections holds no session.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/headway-process.ts';
import { eventually, startEcho } from '../helpers/sockets.ts';

const CONNECTIONS = 1500;
const AT_ONCE = 25;

/** One short connection: 8 bytes out, 8 bytes back, close. */
function exchange(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' });
    let got = 0;
    s.on('connect', () => s.write('12345678'));
    s.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= 8) s.end();
    });
    s.on('close', () => (got >= 8 ? resolve() : reject(new Error('short reply'))));
    s.on('error', reject);
  });
}

/** How many objects of this constructor a V8 heap snapshot file holds. */
function countObjects(file: string, constructorName: string): number {
  const heap = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = heap.snapshot.meta.node_fields;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const objectType = heap.snapshot.meta.node_types[0].indexOf('object');
  let n = 0;
  for (let i = 0; i < heap.nodes.length; i += fields.length) {
    if (heap.nodes[i + typeAt] !== objectType) continue;
    if (heap.strings[heap.nodes[i + nameAt] ?? 0] === constructorName) n++;
  }
  return n;
}

const dir = mkdtempSync(join(tmpdir(), 'headway-heap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('closed connections', () => {
  it('leave no session alive behind them, right after they close', async () => {
    const echo = await startEcho();
    // Node writes a heap snapshot into --diagnostic-dir on SIGUSR2.
    const proxy = await startProxy(['--backends', `static://${echo.address}`], {}, (argv) => [
      argv[0] ?? process.execPath,
      '--heapsnapshot-signal=SIGUSR2',
      `--diagnostic-dir=${dir}`,
      ...argv.slice(1),
    ]);
    try {
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < CONNECTIONS) {
          next++;
          await exchange(proxy.port);
        }
      };
      await Promise.all(Array.from({ length: AT_ONCE }, worker));
      // At once: with the defect the connections of the last one to two seconds are still held.
      proxy.proc.kill('SIGUSR2');
      const file = await eventually(
        () => {
          const name = readdirSync(dir).find((f) => f.endsWith('.heapsnapshot'));
          if (name === undefined) return undefined;
          const path = join(dir, name);
          // Written in one go by the proxy's main thread: complete once its size holds still.
          const size = statSync(path).size;
          return size > 0 && size === lastSize(path, size) ? path : undefined;
        },
        30_000,
        200,
      );
      expect(countObjects(file, 'Session')).toBeLessThan(50);
      // The snapshot saw the proxy's own objects (the check above is not vacuous).
      expect(countObjects(file, 'Route')).toBeGreaterThan(0);
    } finally {
      await proxy.stop();
      await echo.close();
    }
  });
});

const sizes = new Map<string, number>();
/** The size this file had at the previous poll (this poll's size is remembered for the next). */
function lastSize(path: string, size: number): number | undefined {
  const before = sizes.get(path);
  sizes.set(path, size);
  return before;
}
