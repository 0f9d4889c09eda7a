import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type Backend } from '../../test/helpers/sockets.ts';
import { ANY_2XX, parseStatusSet } from '../config/health-check-values.ts';
import { HttpStatusReader, httpCheckRequest } from './http-check.ts';
import { checkProbe, type CheckSettings } from './check-plan.ts';

const b = (text: string): Buffer => Buffer.from(text, 'latin1');

describe('HttpStatusReader', () => {
  it('decides on the status line alone, split anywhere', () => {
    const r = new HttpStatusReader(ANY_2XX);
    expect(r.feed(b('HTT'))).toEqual({ kind: 'pending' });
    expect(r.feed(b('P/1.1 20'))).toEqual({ kind: 'pending' });
    expect(r.feed(b('0 OK\r\nContent-Le'))).toEqual({
      kind: 'pass',
      reason: 'status 200',
      status: 200,
    });
  });

  it('fails on a code outside the set, with the code', () => {
    expect(new HttpStatusReader(ANY_2XX).feed(b('HTTP/1.1 503 Service Unavailable\r\n'))).toEqual({
      kind: 'fail',
      reason: 'status 503',
      status: 503,
    });
    expect(
      new HttpStatusReader(parseStatusSet('200')).feed(b('HTTP/1.0 204 No Content\r\n')),
    ).toMatchObject({ kind: 'fail', status: 204 });
  });

  it('accepts a status line without a reason phrase', () => {
    expect(new HttpStatusReader(ANY_2XX).feed(b('HTTP/1.1 204\r\n'))).toMatchObject({
      kind: 'pass',
      status: 204,
    });
  });

  it('skips interim 1xx responses', () => {
    const r = new HttpStatusReader(ANY_2XX);
    expect(r.feed(b('HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n'))).toEqual({ kind: 'pending' });
    expect(r.feed(b('\r\nHTTP/1.1 200 OK\r\n'))).toMatchObject({ kind: 'pass', status: 200 });
  });

  it('fails at once on something that is not HTTP (a check aimed at the wrong port)', () => {
    expect(new HttpStatusReader(ANY_2XX).feed(b('-ERR unknown command'))).toEqual({
      kind: 'fail',
      reason: 'not an HTTP response',
    });
    expect(new HttpStatusReader(ANY_2XX).feed(b('HTTP/2 200\r\n'))).toMatchObject({
      kind: 'fail',
    });
  });
});

describe('httpCheckRequest', () => {
  it('is one GET with Host and Connection: close', () => {
    expect(httpCheckRequest('/primary', '127.0.0.1:8008').toString()).toMatch(
      /^GET \/primary HTTP\/1\.1\r\nHost: 127\.0\.0\.1:8008\r\n(?:.*\r\n)*Connection: close\r\n\r\n$/,
    );
  });
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

const HTTP: CheckSettings = {
  healthCheck: 'http',
  healthSend: null,
  healthExpect: null,
  healthReject: [],
  healthPort: null,
  healthPath: '/primary',
  healthHost: null,
  healthExpectStatus: ANY_2XX,
  healthRise: null,
  healthFall: null,
  closeOnDown: 'auto',
};

/** An HTTP server on a plain socket: records the request, answers with `reply(requestText)`. */
async function httpServer(
  reply: (request: string) => string,
): Promise<Backend & { requests: string[] }> {
  const requests: string[] = [];
  const server = await startServer((s: Socket) => {
    s.on('error', () => undefined);
    let text = '';
    s.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (!text.includes('\r\n\r\n')) return;
      requests.push(text);
      s.end(reply(text));
    });
  });
  cleanups.push(() => server.close());
  return Object.assign(server, { requests });
}

describe('checkProbe (http), on real sockets', () => {
  it('sends GET path with Host, and passes on 2xx with the status and latency', async () => {
    const srv = await httpServer(
      () => 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    );
    const r = await checkProbe(HTTP)({ address: '127.0.0.1', port: srv.port }, { timeoutMs: 2000 });
    expect(r).toMatchObject({ ok: true, reason: 'status 200', status: 200 });
    expect(r.ms).toBeGreaterThanOrEqual(0);
    expect(srv.requests[0]).toMatch(/^GET \/primary HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\n/);
  });

  it('fails on 503 at once, not at the timeout', async () => {
    const srv = await httpServer(
      () => 'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n',
    );
    const r = await checkProbe(HTTP)(
      { address: '127.0.0.1', port: srv.port },
      { timeoutMs: 10_000 },
    );
    expect(r).toMatchObject({ ok: false, reason: 'status 503', status: 503 });
    expect(r.ms).toBeLessThan(5000);
  });

  it('connects to --health-port instead of the backend port, with --health-host', async () => {
    const srv = await httpServer(() => 'HTTP/1.1 204 No Content\r\n\r\n');
    const probeFn = checkProbe({
      ...HTTP,
      healthPort: srv.port,
      healthHost: 'patroni.local',
      healthExpectStatus: parseStatusSet('204'),
    });
    // Port 1: nothing listens there; only the health port is asked.
    const r = await probeFn({ address: '127.0.0.1', port: 1 }, { timeoutMs: 2000 });
    expect(r).toMatchObject({ ok: true, status: 204 });
    expect(srv.requests[0]).toContain('\r\nHost: patroni.local\r\n');
  });

  it('a peer that closes before a status line fails the check', async () => {
    const srv = await startServer((s) => {
      s.on('error', () => undefined);
      s.on('data', () => s.end('HTTP/1.1 2'));
    });
    cleanups.push(() => srv.close());
    const r = await checkProbe(HTTP)(
      { address: '127.0.0.1', port: srv.port },
      { timeoutMs: 10_000 },
    );
    expect(r).toMatchObject({ ok: false, reason: 'closed before match' });
  });

  it('a server streaming headers forever is cut at the read limit, well before the timeout', async () => {
    const srv = await startServer((s) => {
      s.on('error', () => undefined);
      s.on('data', () => {
        // A status line longer than the 16 KiB the probe reads.
        s.write(`HTTP/1.1 200 ${'x'.repeat(40_000)}`);
      });
    });
    cleanups.push(() => srv.close());
    const r = await checkProbe(HTTP)(
      { address: '127.0.0.1', port: srv.port },
      { timeoutMs: 10_000 },
    );
    expect(r).toMatchObject({ ok: false, reason: 'no match in first 16 KiB' });
  });
});

describe('checkProbe (tcp) with reject patterns and --health-port', () => {
  it('fails on the reject pattern at once and probes the health port', async () => {
    const { parseCheckExpect, parseCheckSend } = await import('../config/check-string.ts');
    const srv = await startServer((s) => {
      s.on('error', () => undefined);
      // A replica: answers at once, and keeps the connection open.
      s.on('data', () => s.write('$40\r\n# Replication\r\nrole:slave\r\nmaster_host:x\r\n'));
    });
    cleanups.push(() => srv.close());
    const probeFn = checkProbe({
      ...HTTP,
      healthCheck: 'tcp',
      healthPath: '/',
      healthPort: srv.port,
      healthSend: parseCheckSend('INFO replication\\r\\n'),
      healthExpect: parseCheckExpect('role:master'),
      healthReject: [parseCheckExpect('role:slave')],
    });
    const r = await probeFn(
      { address: '127.0.0.1', port: 1 },
      {
        timeoutMs: 10_000,
        send: parseCheckSend('INFO replication\\r\\n'),
        expect: parseCheckExpect('role:master'),
      },
    );
    expect(r).toMatchObject({ ok: false, reason: 'rejected role:slave' });
    expect(r.ms).toBeLessThan(5000);
  });
});
