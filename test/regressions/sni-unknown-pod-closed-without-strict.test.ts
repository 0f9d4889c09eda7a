/**
 * Regression (issue 15, item 13): without --sni-strict, a server name that
 * fits --sni-pattern but names no pod was closed as no_backend, contrary to
 * the docs ("goes to the strategy"); a named pod that was down was tried,
 * and on failure the connection was closed too. Now both go to the
 * strategy; with --sni-strict both are refused.
 */
import { once } from 'node:events';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { Dnsmasq } from '../helpers/dnsmasq.ts';
import { startProxy } from '../helpers/headway-process.ts';
import { makeTlsFixtures } from '../helpers/tls-fixtures.ts';
import { eventually, refusedPort } from '../helpers/sockets.ts';

const SVC = '_tls._tcp.db.test.svc.cluster.local';

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

function hello(port: number, servername: string): Promise<string> {
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

describe('--route-by sni without --sni-strict', () => {
  it('sends a name of no pod, or of a pod that is down, to the strategy; --sni-strict refuses both', async () => {
    const port = await refusedPort();
    // db-0 answers; db-2 is listed but nothing listens at its address (down).
    const pod = await tlsPod('127.0.0.131', port, 'db-0');
    const dns = new Dnsmasq({
      ttl: 1,
      hosts: [
        '127.0.0.131 db-0.db.test.svc.cluster.local',
        '127.0.0.133 db-2.db.test.svc.cluster.local',
      ],
      srv: [
        `${SVC},db-0.db.test.svc.cluster.local,${port},0,1`,
        `${SVC},db-2.db.test.svc.cluster.local,${port},0,1`,
      ],
    });
    await dns.start();
    const common = [
      '--route-by',
      'sni',
      '--sni-pattern',
      '{hostname}.db.example.com',
      '--connect-retries',
      '2',
      '--dns-server',
      dns.server,
      '--backends',
      `srv://${SVC}`,
    ];
    const lenient = await startProxy(common);
    const strict = await startProxy(['--sni-strict', ...common]);
    try {
      for (const p of [lenient, strict]) {
        await eventually(async () => {
          try {
            return (await hello(p.port, 'db-0.db.example.com')) === 'I am db-0' ? true : undefined;
          } catch {
            return undefined;
          }
        }, 15_000);
      }
      // No such pod: the strategy picks one (only db-0 answers; a try on db-2 fails over).
      expect(await hello(lenient.port, 'db-7.db.example.com')).toBe('I am db-0');
      // The named pod is down: same rule.
      expect(await hello(lenient.port, 'db-2.db.example.com')).toBe('I am db-0');
      await expect(hello(strict.port, 'db-7.db.example.com')).rejects.toThrow();
      await expect(hello(strict.port, 'db-2.db.example.com')).rejects.toThrow();
    } finally {
      await lenient.stop();
      await strict.stop();
      await dns.dispose();
      pod.close();
    }
  });
});
