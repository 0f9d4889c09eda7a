import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProxyHeaderReader, encodeV1, type ProxyHeader } from '../../src/proxy-protocol/index.ts';
import { startProxy } from '../helpers/headway-process.ts';
import {
  NGINX_STREAM_MODULE,
  requireNginxStream,
  requireProgram,
} from '../helpers/required-programs.ts';
import {
  closed,
  connectTo,
  eventually,
  metricValue,
  readAll,
  refusedPort,
  startServer,
} from '../helpers/sockets.ts';

interface Seen {
  header: ProxyHeader;
  payload: string;
}

/** A backend that reads a PROXY header, then answers "<source> <payload>" and closes. */
async function startProxyAwareBackend() {
  const seen: Seen[] = [];
  const server = await startServer((s: Socket) => {
    const reader = new ProxyHeaderReader();
    let header: ProxyHeader | undefined;
    let payload = '';
    s.on('error', () => undefined);
    s.on('data', (c: Buffer) => {
      if (header === undefined) {
        const r = reader.push(c);
        if (r.kind === 'error') {
          s.end(`bad header: ${r.reason}\n`);
          return;
        }
        if (r.kind === 'need-more') return;
        header = r.header;
        payload += r.rest.toString();
      } else {
        payload += c.toString();
      }
    });
    s.on('end', () => {
      if (header === undefined) return;
      seen.push({ header, payload });
      const src =
        header.command === 'proxy' ? `${header.sourceAddress}:${header.sourcePort}` : 'local';
      s.end(`${src} ${payload}`);
    });
  });
  return { ...server, seen };
}

async function exchange(
  port: number,
  data: Buffer | string,
  host = '127.0.0.1',
  localAddress?: string,
): Promise<string> {
  const s = connect({
    port,
    host,
    allowHalfOpen: true,
    ...(localAddress === undefined ? {} : { localAddress }),
  });
  await once(s, 'connect');
  s.end(data);
  return (await readAll(s)).toString();
}

async function outcomeCount(adminUrl: string, outcome: string): Promise<number> {
  return metricValue(
    await (await fetch(`${adminUrl}/metrics`)).text(),
    'headway_connections_total',
    { outcome },
  );
}

describe('PROXY protocol', () => {
  it.each(['v1', 'v2'])(
    'sends the client address to backends (--proxy-protocol %s)',
    async (version) => {
      const backend = await startProxyAwareBackend();
      const proxy = await startProxy([
        '--proxy-protocol',
        version,
        '--backends',
        `static://${backend.address}`,
      ]);
      try {
        const reply = await exchange(proxy.port, 'hello', '127.0.0.1', '127.0.0.9');
        expect(reply).toMatch(/^127\.0\.0\.9:\d+ hello$/);
        expect(backend.seen[0]?.header.version).toBe(version === 'v1' ? 1 : 2);
      } finally {
        await proxy.stop();
        await backend.close();
      }
    },
  );

  it('reads a PROXY header from clients and passes its address and the bytes after it on', async () => {
    const backend = await startProxyAwareBackend();
    const proxy = await startProxy([
      '--accept-proxy-protocol',
      '--proxy-protocol',
      'v2',
      '--backends',
      `static://${backend.address}`,
    ]);
    try {
      const header = encodeV1({
        family: 'tcp4',
        sourceAddress: '203.0.113.7',
        sourcePort: 4242,
        destAddress: '198.51.100.1',
        destPort: 6379,
      });
      // Header and payload in one write: the bytes after the header must not be lost.
      const reply = await exchange(proxy.port, Buffer.concat([header, Buffer.from('payload')]));
      expect(reply).toBe('203.0.113.7:4242 payload');
      expect(backend.seen[0]?.header).toMatchObject({
        destAddress: '198.51.100.1',
        destPort: 6379,
      });
    } finally {
      await proxy.stop();
      await backend.close();
    }
  });

  it('closes a client with a malformed header (proxy_protocol_error) and keeps serving', async () => {
    const backend = await startProxyAwareBackend();
    const proxy = await startProxy([
      '--accept-proxy-protocol',
      '--proxy-protocol',
      'v1',
      '--backends',
      `static://${backend.address}`,
    ]);
    try {
      const s = await connectTo(proxy.port);
      s.write('GET / HTTP/1.1\r\n\r\n');
      await closed(s);
      await eventually(async () =>
        (await outcomeCount(proxy.adminUrl, 'proxy_protocol_error')) === 1 ? true : undefined,
      );
      expect(backend.seen).toHaveLength(0);
      const ok = encodeV1({
        family: 'tcp4',
        sourceAddress: '192.0.2.1',
        sourcePort: 1,
        destAddress: '192.0.2.2',
        destPort: 2,
      });
      expect(await exchange(proxy.port, Buffer.concat([ok, Buffer.from('x')]))).toBe(
        '192.0.2.1:1 x',
      );
    } finally {
      await proxy.stop();
      await backend.close();
    }
  });

  it('closes a client whose header does not arrive within 3 s', async () => {
    const backend = await startProxyAwareBackend();
    const proxy = await startProxy([
      '--accept-proxy-protocol',
      '--backends',
      `static://${backend.address}`,
    ]);
    try {
      const s = await connectTo(proxy.port);
      s.write('PROXY TCP4 ');
      const started = Date.now();
      await closed(s);
      const waited = Date.now() - started;
      expect(waited).toBeGreaterThanOrEqual(2500);
      expect(waited).toBeLessThan(8000);
    } finally {
      await proxy.stop();
      await backend.close();
    }
  });

  it('--proxy-protocol-from: only listed peers must send a header', async () => {
    const backend = await startProxyAwareBackend();
    const proxy = await startProxy([
      '--accept-proxy-protocol',
      '--proxy-protocol-from',
      '127.0.0.2/32',
      '--proxy-protocol',
      'v1',
      '--backends',
      `static://${backend.address}`,
    ]);
    try {
      // A direct client: its own address goes to the backend.
      expect(await exchange(proxy.port, 'direct', '127.0.0.1', '127.0.0.3')).toMatch(
        /^127\.0\.0\.3:\d+ direct$/,
      );
      // The load balancer's connection carries a header.
      const h = encodeV1({
        family: 'tcp4',
        sourceAddress: '198.51.100.9',
        sourcePort: 99,
        destAddress: '127.0.0.1',
        destPort: 1,
      });
      expect(
        await exchange(
          proxy.port,
          Buffer.concat([h, Buffer.from('via lb')]),
          '127.0.0.1',
          '127.0.0.2',
        ),
      ).toBe('198.51.100.9:99 via lb');
    } finally {
      await proxy.stop();
      await backend.close();
    }
  });
});

describe('access control', () => {
  it('--deny closes matching clients before any backend is touched (denied)', async () => {
    const backend = await startProxyAwareBackend();
    const proxy = await startProxy([
      '--deny',
      '127.0.0.5/32',
      '--backends',
      `static://${backend.address}`,
    ]);
    try {
      const s = connect({ port: proxy.port, host: '127.0.0.1', localAddress: '127.0.0.5' });
      s.on('error', () => undefined);
      await closed(s);
      await eventually(async () =>
        (await outcomeCount(proxy.adminUrl, 'denied')) === 1 ? true : undefined,
      );
      expect(backend.seen).toHaveLength(0);
    } finally {
      await proxy.stop();
      await backend.close();
    }
  });

  it('--allow admits only listed clients, IPv4 and IPv6', async () => {
    const backend = await startProxyAwareBackend();
    const proxy = await startProxy([
      '--listen',
      '[::1]:0',
      '--allow',
      '127.0.0.6/32',
      '--allow',
      '::1/128',
      '--proxy-protocol',
      'v1',
      '--backends',
      `static://${backend.address}`,
    ]);
    try {
      expect(await exchange(proxy.port, 'v6', '::1')).toMatch(/^::1:\d+ v6$/);
      const denied = connect({ port: proxy.port, host: '::1', localAddress: '::1' });
      denied.destroy();
      const res = await fetch(`${proxy.adminUrl}/metrics`);
      expect(res.status).toBe(200);
    } finally {
      await proxy.stop();
      await backend.close();
    }
  });

  it('checks the PROXY-header address, not the load balancer’s', async () => {
    const backend = await startProxyAwareBackend();
    const proxy = await startProxy([
      '--accept-proxy-protocol',
      // Access rules on a PROXY address need the trusted peers named (else anyone could forge it).
      '--proxy-protocol-from',
      '127.0.0.1/32',
      '--deny',
      '203.0.113.0/24',
      '--proxy-protocol',
      'v1',
      '--backends',
      `static://${backend.address}`,
    ]);
    try {
      const bad = encodeV1({
        family: 'tcp4',
        sourceAddress: '203.0.113.50',
        sourcePort: 5,
        destAddress: '10.0.0.1',
        destPort: 1,
      });
      const s = await connectTo(proxy.port);
      s.write(bad);
      await closed(s);
      await eventually(async () =>
        (await outcomeCount(proxy.adminUrl, 'denied')) === 1 ? true : undefined,
      );
      const good = encodeV1({
        family: 'tcp4',
        sourceAddress: '198.51.100.50',
        sourcePort: 5,
        destAddress: '10.0.0.1',
        destPort: 1,
      });
      expect(await exchange(proxy.port, Buffer.concat([good, Buffer.from('ok')]))).toBe(
        '198.51.100.50:5 ok',
      );
    } finally {
      await proxy.stop();
      await backend.close();
    }
  });
});

async function run(
  cmd: string,
  args: string[],
  ready: () => Promise<boolean>,
): Promise<ChildProcess> {
  const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr.on('data', (c: Buffer) => (err += c.toString()));
  await eventually(
    async () => {
      if (p.exitCode !== null) throw new Error(`${cmd} exited: ${err}`);
      return (await ready()) ? true : undefined;
    },
    10_000,
    50,
  );
  return p;
}

async function listening(port: number): Promise<boolean> {
  try {
    const s = await connectTo(port);
    s.destroy();
    return true;
  } catch {
    return false;
  }
}

describe('PROXY protocol with real peers', () => {
  it('HAProxy accept-proxy reads our header; HAProxy send-proxy-v2 feeds our reader', async () => {
    requireProgram('haproxy');
    const backend = await startProxyAwareBackend();
    const dir = mkdtempSync(join(tmpdir(), 'headway-hap-'));
    const hapIn = await refusedPort();
    const hapOut = await refusedPort();
    // Start Headway (reading PROXY from HAProxy) first, so HAProxy can point at it.
    const headwayIn = await startProxy([
      '--accept-proxy-protocol',
      '--proxy-protocol',
      'v1',
      '--backends',
      `static://${backend.address}`,
    ]);
    writeFileSync(
      join(dir, 'haproxy.cfg'),
      [
        'global',
        '  maxconn 100',
        'defaults',
        '  mode tcp',
        '  timeout connect 2s',
        '  timeout client 10s',
        '  timeout server 10s',
        // Headway → HAProxy (accept-proxy) → test backend (send-proxy-v2 re-emits what HAProxy parsed)
        'listen from_headway',
        `  bind 127.0.0.1:${hapIn} accept-proxy`,
        `  server b ${backend.address} send-proxy-v2`,
        // client → HAProxy (send-proxy-v2) → Headway (accept)
        'listen to_headway',
        `  bind 127.0.0.1:${hapOut}`,
        `  server h 127.0.0.1:${headwayIn.port} send-proxy-v2`,
      ].join('\n') + '\n',
    );
    const hap = await run('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], () =>
      listening(hapOut),
    );
    const headwayOut = await startProxy([
      '--proxy-protocol',
      'v2',
      '--backends',
      `static://127.0.0.1:${hapIn}`,
    ]);
    try {
      expect(await exchange(headwayOut.port, 'through haproxy', '127.0.0.1', '127.0.0.11')).toMatch(
        /^127\.0\.0\.11:\d+ through haproxy$/,
      );
      expect(await exchange(hapOut, 'from haproxy', '127.0.0.1', '127.0.0.12')).toMatch(
        /^127\.0\.0\.12:\d+ from haproxy$/,
      );
    } finally {
      hap.kill();
      await headwayOut.stop();
      await headwayIn.stop();
      await backend.close();
    }
  });

  it('NGINX `listen … proxy_protocol` reads our v1 and v2 headers', async () => {
    requireNginxStream();
    const dir = mkdtempSync(join(tmpdir(), 'headway-nginx-'));
    const port = await refusedPort();
    writeFileSync(
      join(dir, 'nginx.conf'),
      [
        `load_module ${NGINX_STREAM_MODULE};`,
        'daemon off;',
        'worker_processes 1;',
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/error.log warn;`,
        'events { worker_connections 64; }',
        'stream {',
        `  server { listen 127.0.0.1:${port} proxy_protocol; return "$proxy_protocol_addr:$proxy_protocol_port"; }`,
        '}',
      ].join('\n') + '\n',
    );
    const nginx = await run('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], () =>
      listening(port),
    );
    try {
      for (const version of ['v1', 'v2']) {
        const p = await startProxy([
          '--proxy-protocol',
          version,
          '--backends',
          `static://127.0.0.1:${port}`,
        ]);
        try {
          const s = connect({
            port: p.port,
            host: '127.0.0.1',
            localAddress: '127.0.0.13',
            allowHalfOpen: true,
          });
          await once(s, 'connect');
          const reply = (await readAll(s)).toString();
          s.end();
          expect(reply).toMatch(/^127\.0\.0\.13:\d+$/);
        } finally {
          await p.stop();
        }
      }
    } finally {
      nginx.kill();
    }
  });
});
