import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/headway-process.ts';
import { connectTo, patternBytes, startServer } from '../helpers/sockets.ts';

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m === null ? 0 : Number(m[1]) * 1024;
}

const TOTAL = 200 << 20;

describe('backpressure', () => {
  it('a slow reader gets 200 MiB intact while the proxy RSS grows < 64 MiB (96 on net.Socket)', async () => {
    const block = patternBytes(1 << 20, 42);
    const expected = createHash('sha256');
    for (let sent = 0; sent < TOTAL; sent += block.length) expected.update(block);
    const backend = await startServer((s: Socket) => {
      void (async () => {
        for (let sent = 0; sent < TOTAL; sent += block.length) {
          if (!s.write(block)) await once(s, 'drain');
        }
        s.end();
      })();
    });
    const proxy = await startProxy(['--backends', `static://${backend.address}`]);
    try {
      const baseline = rssBytes(proxy.pid);
      let peak = baseline;
      const socket = await connectTo(proxy.port);
      const hash = createHash('sha256');
      let received = 0;
      let reads = 0;
      socket.on('data', (c: Buffer) => {
        hash.update(c);
        received += c.length;
        // Read slowly: pause after every chunk, sampling the proxy's memory now and then.
        if (++reads % 16 === 0) {
          peak = Math.max(peak, rssBytes(proxy.pid));
          socket.pause();
          setTimeout(() => socket.resume(), 2);
        }
      });
      await once(socket, 'end');
      peak = Math.max(peak, rssBytes(proxy.pid));
      socket.end();
      expect(received).toBe(TOTAL);
      expect(hash.digest('hex')).toBe(expected.digest('hex'));
      const growth = peak - baseline;
      console.log(
        `slow reader: proxy RSS baseline ${(baseline / 2 ** 20).toFixed(1)} MiB, growth ${(growth / 2 ** 20).toFixed(1)} MiB`,
      );
      // Without backpressure the 200 MiB would pile up in the proxy. net.Socket (the
      // `--socket-impl net` fallback, `npm run test:net`) allocates a fresh buffer for
      // every read, so its RSS also holds garbage not yet collected: a looser bound there,
      // still far below what an unbounded buffer would take.
      const bound = process.env.HEADWAY_TEST_SOCKET_IMPL === 'net' ? 96 << 20 : 64 << 20;
      expect(growth).toBeLessThan(bound);
    } finally {
      await proxy.stop();
      await backend.close();
    }
  });
});
