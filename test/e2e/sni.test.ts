import { once } from 'node:events';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { Dnsmasq } from '../helpers/dnsmasq.ts';
import { startProxy } from '../helpers/headway-process.ts';
import { makeTlsFixtures } from '../helpers/tls-fixtures.ts';
import { closed, connectTo, eventually, metricValue, refusedPort } from '../helpers/sockets.ts';

const SVC = '_tls._tcp.db.test.svc.cluster.local';

/** A TLS server standing for one pod: after the handshake it says who it is. */
async function tlsPod(host: string, port: number, name: string) {
  const fx = makeTlsFixtures();
  const server = createTlsServer({ cert: fx.serverCert, key: fx.serverKey }, (s) => {
    s.on('error', () => undefined);
    s.end(`I am ${name}`);
  });
  server.listen({ host, port });
  await once(server, 'listening');
  return server;
}

async function hello(port: number, servername: string): Promise<string> {
  const s: TLSSocket = tlsConnect({
    host: '127.0.0.1',
    port,
    servername,
    rejectUnauthorized: false,
  });
  return new Promise((resolve, reject) => {
    let text = '';
    s.on('data', (c: Buffer) => (text += c.toString()));
    s.on('error', reject);
    s.on('close', () => {
      if (text === '') reject(new Error('closed without an answer'));
      else resolve(text);
    });
  });
}

describe('SNI routing to pods (--route-by sni)', () => {
  it('sends each TLS client to the pod its server name names, end to end, without terminating TLS', async () => {
    const port = await refusedPort();
    const pods = [
      await tlsPod('127.0.0.111', port, 'db-0'),
      await tlsPod('127.0.0.112', port, 'db-1'),
    ];
    const dns = new Dnsmasq({
      ttl: 1,
      hosts: [
        '127.0.0.111 db-0.db.test.svc.cluster.local',
        '127.0.0.112 db-1.db.test.svc.cluster.local',
      ],
      srv: [
        `${SVC},db-0.db.test.svc.cluster.local,${port},0,1`,
        `${SVC},db-1.db.test.svc.cluster.local,${port},0,1`,
      ],
    });
    await dns.start();
    const proxy = await startProxy([
      '--route-by',
      'sni',
      '--sni-pattern',
      '{hostname}.db.example.com',
      '--sni-strict',
      '--dns-server',
      dns.server,
      '--backends',
      `srv://${SVC}`,
    ]);
    try {
      await eventually(async () => {
        try {
          return (await hello(proxy.port, 'db-1.db.example.com')) === 'I am db-1'
            ? true
            : undefined;
        } catch {
          return undefined;
        }
      });
      for (let i = 0; i < 3; i++) {
        expect(await hello(proxy.port, 'db-0.db.example.com')).toBe('I am db-0');
        expect(await hello(proxy.port, 'DB-1.db.example.com')).toBe('I am db-1');
      }
      // No such pod, with --sni-strict: closed.
      await expect(hello(proxy.port, 'db-7.db.example.com')).rejects.toThrow();
      // Not TLS at all: closed, counted as rejected; the listener keeps serving.
      const plain = await connectTo(proxy.port);
      plain.write('GET / HTTP/1.1\r\nHost: db-0\r\n\r\n');
      await closed(plain);
      await eventually(async () => {
        const t = await (await fetch(`${proxy.adminUrl}/metrics`)).text();
        return metricValue(t, 'headway_connections_total', { outcome: 'rejected' }) >= 1
          ? true
          : undefined;
      });
      expect(await hello(proxy.port, 'db-0.db.example.com')).toBe('I am db-0');
    } finally {
      await proxy.stop();
      await dns.dispose();
      for (const p of pods) p.close();
    }
  });
});
