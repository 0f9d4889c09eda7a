import { once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/headway-process.ts';
import { eventually, identify } from '../helpers/sockets.ts';
import { backendsReport, type BackendReport } from '../kit/backends-report.ts';

/**
 * Issue #21 item 2 through the CLI: `--health-check http` on `--health-port`,
 * the way HAProxy checks Patroni (`option httpchk GET /primary`, `check port
 * 8008`). Each backend is a TCP server on its own loopback address that
 * names itself, with a tiny HTTP server beside it on one shared port
 * answering `GET /primary` with 200 on the primary and 503 elsewhere.
 * Routing follows a flip of the HTTP answers, and /backends shows the last
 * status code and latency.
 */

const NODES = ['127.0.0.101', '127.0.0.102', '127.0.0.103'] as const;
const INTERVAL_MS = 500;
/** Generous for two shared, busy cores. */
const SLACK_MS = 3000;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function listen(server: Server | HttpServer, host: string, port: number): Promise<number> {
  server.listen({ host, port });
  await once(server, 'listening');
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}

/** A port free on every node address. */
async function commonPort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const probe = createServer();
    probe.listen({ host: NODES[0], port: 0 });
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const free = await Promise.all(
      NODES.map(
        (host) =>
          new Promise<boolean>((resolve) => {
            const s = createServer();
            s.once('error', () => resolve(false));
            s.listen({ host, port }, () => s.close(() => resolve(true)));
          }),
      ),
    );
    if (free.every(Boolean)) return port;
  }
  throw new Error('no common free port');
}

describe('HTTP health check on another port (Patroni style)', () => {
  it('routes to the node whose /primary answers 200, follows a flip within one interval + slack, and reports status and latency', async () => {
    let primary: string = NODES[0];
    const requests: { host: string; path: string; hostHeader: string | undefined }[] = [];
    const dataPort = await commonPort();
    for (const host of NODES) {
      const tcp = createServer((s) => {
        s.on('error', () => undefined);
        s.write(`${host}\n`);
      });
      await listen(tcp, host, dataPort);
    }
    const healthPort = await commonPort();
    for (const host of NODES) {
      const http = createHttpServer((req, res) => {
        requests.push({ host, path: req.url ?? '', hostHeader: req.headers.host });
        const code = req.url === '/primary' && primary === host ? 200 : 503;
        res.writeHead(code, { 'content-type': 'text/plain' });
        res.end(code === 200 ? 'primary\n' : 'not the primary\n');
      });
      await listen(http, host, healthPort);
    }
    const proxy = await startProxy([
      '--backends',
      `static://${NODES.map((ip) => `${ip}:${dataPort}`).join(',')}`,
      '--strategy',
      'round-robin',
      '--health-check',
      'http',
      '--health-port',
      String(healthPort),
      '--health-path',
      '/primary',
      '--health-interval',
      `${INTERVAL_MS}ms`,
      '--health-timeout',
      '5s',
    ]);
    cleanups.push(() => proxy.stop());

    const report = async (): Promise<readonly BackendReport[]> =>
      (await backendsReport(proxy.adminUrl)).listeners[0]?.backends ?? [];
    // Settled: only the primary is healthy.
    await eventually(async () => {
      const b = await report();
      return b.filter((x) => x.health?.healthy === true).length === 1 ? true : undefined;
    }, 10_000);
    for (let i = 0; i < 6; i++) expect(await identify(proxy.port)).toBe(NODES[0]);
    const before = await report();
    const b0 = before.find((b) => b.id.startsWith(NODES[0]));
    const b1 = before.find((b) => b.id.startsWith(NODES[1]));
    expect(b0?.health).toMatchObject({ healthy: true, lastStatus: 200, lastResult: 'status 200' });
    expect(b1?.health).toMatchObject({ healthy: false, lastStatus: 503, lastResult: 'status 503' });
    expect(typeof b0?.health?.lastMs).toBe('number');
    // The checks went to the health port, as GET /primary with a Host header.
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.every((r) => r.path === '/primary')).toBe(true);
    expect(requests[0]?.hostHeader).toMatch(/^127\.0\.0\.10[123]:\d+$/);

    // Flip: 102 becomes the primary.
    const flippedAt = Date.now();
    primary = NODES[1];
    const movedAt = await eventually(
      async () => ((await identify(proxy.port)) === NODES[1] ? Date.now() : undefined),
      INTERVAL_MS + SLACK_MS + 5000,
      10,
    );
    console.log(
      `HTTP check on another port: routing followed the flip after ${movedAt - flippedAt} ms (interval ${INTERVAL_MS} ms)`,
    );
    expect(movedAt - flippedAt).toBeLessThan(INTERVAL_MS + SLACK_MS);
    // Settled on the new primary: the old one is out (and says why), the new one in. Between the
    // two checks no backend passes, and panic mode spreads connections over all of them.
    await eventually(async () => {
      const r = await report();
      const old = r.find((x) => x.id.startsWith(NODES[0]));
      const now = r.find((x) => x.id.startsWith(NODES[1]));
      return old?.health?.healthy === false && now?.health?.healthy === true ? true : undefined;
    });
    for (let i = 0; i < 6; i++) expect(await identify(proxy.port)).toBe(NODES[1]);
    const down = await proxy.waitForLog(
      (l) => l.msg === 'backend failed its health checks' && String(l.backend).startsWith(NODES[0]),
    );
    expect(down.reason).toBe('status 503');
  }, 60_000);

  it('a check aimed at a port that is not HTTP fails at once as "not an HTTP response"', async () => {
    const port = await commonPort();
    const tcp = createServer((s) => {
      s.on('error', () => undefined);
      s.on('data', () => s.write('-ERR unknown command\r\n'));
    });
    await listen(tcp, NODES[0], port);
    const proxy = await startProxy([
      '--backends',
      `static://${NODES[0]}:${port}`,
      '--health-check',
      'http',
      '--health-interval',
      '200ms',
      '--health-timeout',
      '10s',
    ]);
    cleanups.push(() => proxy.stop());
    const down = await proxy.waitForLog((l) => l.msg === 'backend failed its health checks', 8000);
    expect(down.reason).toBe('not an HTTP response');
  }, 30_000);
});
