import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy, type RunningProxy } from '../helpers/headway-process.ts';
import {
  closed,
  connectTo,
  eventually,
  metricValue,
  patternBytes,
  readAll,
  sha256,
  startEcho,
  startServer,
  type Backend,
} from '../helpers/sockets.ts';

/** Send `total` pattern bytes through `socket` (with backpressure) and FIN; hash what comes back. */
async function roundTrip(
  socket: Socket,
  total: number,
): Promise<{ sent: string; received: string; bytes: number }> {
  const sentHash = createHash('sha256');
  const recvHash = createHash('sha256');
  let bytes = 0;
  socket.on('data', (c: Buffer) => {
    recvHash.update(c);
    bytes += c.length;
  });
  const ended = once(socket, 'end');
  const block = patternBytes(Math.min(total, 1 << 20), total);
  let left = total;
  while (left > 0) {
    const n = Math.min(left, block.length);
    const chunk = n === block.length ? block : block.subarray(0, n);
    sentHash.update(chunk);
    left -= n;
    if (!socket.write(chunk)) await once(socket, 'drain');
  }
  socket.end();
  await ended;
  return { sent: sentHash.digest('hex'), received: recvHash.digest('hex'), bytes };
}

describe('relay through the proxy', () => {
  let echo: Backend;
  let proxy: RunningProxy;

  beforeAll(async () => {
    echo = await startEcho();
    proxy = await startProxy(['--backends', `static://${echo.address}`]);
  });

  afterAll(async () => {
    await proxy.stop();
    await echo.close();
  });

  it.each([1, 1000, 65_537, 1 << 20, 100 << 20])(
    'relays %i bytes intact both ways',
    async (size) => {
      const socket = await connectTo(proxy.port);
      const r = await roundTrip(socket, size);
      expect(r.bytes).toBe(size);
      expect(r.received).toBe(r.sent);
    },
  );

  it('relays 200 concurrent connections', async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const socket = await connectTo(proxy.port);
        return roundTrip(socket, 16_384 + i);
      }),
    );
    results.forEach((r, i) => {
      expect(r.bytes).toBe(16_384 + i);
      expect(r.received).toBe(r.sent);
    });
  });

  it('counts closed connections and bytes in /metrics', async () => {
    const socket = await connectTo(proxy.port);
    await roundTrip(socket, 12_345);
    const text = await eventually(async () => {
      const t = await (await fetch(`${proxy.adminUrl}/metrics`)).text();
      return metricValue(t, 'headway_active_connections') === 0 ? t : undefined;
    });
    expect(
      metricValue(text, 'headway_connections_total', { outcome: 'ok', backend: echo.address }),
    ).toBeGreaterThan(0);
    expect(
      metricValue(text, 'headway_bytes_total', { direction: 'client_to_backend' }),
    ).toBeGreaterThanOrEqual(12_345);
    expect(
      metricValue(text, 'headway_bytes_total', { direction: 'backend_to_client' }),
    ).toBeGreaterThanOrEqual(12_345);
  });
});

describe('half-close', () => {
  it("carries the client's FIN to the backend and the backend's later reply back", async () => {
    const backend = await startServer((s) => {
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('end', () => {
        // Reply only after the client's FIN arrived, then close our side.
        const got = Buffer.concat(chunks);
        setTimeout(() => s.end(`got ${got.length} bytes: ${sha256(got)}`), 100);
      });
    });
    const proxy = await startProxy(['--backends', `static://${backend.address}`]);
    try {
      const socket = await connectTo(proxy.port);
      const payload = patternBytes(300_000, 7);
      socket.end(payload);
      const reply = (await readAll(socket)).toString();
      expect(reply).toBe(`got 300000 bytes: ${sha256(payload)}`);
    } finally {
      await proxy.stop();
      await backend.close();
    }
  });

  it("carries the backend's FIN to the client while the client keeps sending", async () => {
    let received: Promise<Buffer> | undefined;
    const backend = await startServer((s) => {
      received = readAll(s);
      // Server speaks first and half-closes at once.
      s.end('banner\n');
    });
    const proxy = await startProxy(['--backends', `static://${backend.address}`]);
    try {
      const socket = await connectTo(proxy.port);
      const fromServer = await readAll(socket);
      expect(fromServer.toString()).toBe('banner\n');
      const payload = patternBytes(200_000, 9);
      socket.end(payload);
      await closed(socket);
      const { got } = await eventually(() => (received ? { got: received } : undefined));
      expect(sha256(await got)).toBe(sha256(payload));
    } finally {
      await proxy.stop();
      await backend.close();
    }
  });
});

describe('reset propagation', () => {
  it('a backend reset reaches the client as ECONNRESET', async () => {
    const backend = await startServer((s) => {
      s.once('data', () => {
        s.write('partial reply');
        setTimeout(() => s.resetAndDestroy(), 50);
      });
    });
    const proxy = await startProxy(['--backends', `static://${backend.address}`]);
    try {
      const socket = await connectTo(proxy.port);
      socket.write('request');
      const { error } = await closed(socket);
      expect(error?.code).toBe('ECONNRESET');
      const text = await eventually(async () => {
        const t = await (await fetch(`${proxy.adminUrl}/metrics`)).text();
        return metricValue(t, 'headway_connections_total', { outcome: 'reset' }) > 0
          ? t
          : undefined;
      });
      expect(metricValue(text, 'headway_connections_total', { outcome: 'ok' })).toBe(0);
    } finally {
      await proxy.stop();
      await backend.close();
    }
  });

  it('a client reset reaches the backend as ECONNRESET', async () => {
    let backendClosed: Promise<{ error: NodeJS.ErrnoException | undefined }> | undefined;
    const backend = await startServer((s) => {
      backendClosed = closed(s);
      s.on('data', () => undefined);
    });
    const proxy = await startProxy(['--backends', `static://${backend.address}`]);
    try {
      const socket = await connectTo(proxy.port);
      socket.write('hello');
      // Wrapped: eventually() would otherwise await the close itself.
      const { bc } = await eventually(() => (backendClosed ? { bc: backendClosed } : undefined));
      socket.resetAndDestroy();
      const { error } = await bc;
      expect(error?.code).toBe('ECONNRESET');
    } finally {
      await proxy.stop();
      await backend.close();
    }
  });
});
