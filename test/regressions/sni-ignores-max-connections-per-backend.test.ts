/**
 * Regression (issue 15, item 12): SNI routing ignored
 * --max-connections-per-backend: BackendPool.pickByName had no room check,
 * so three clients naming one pod all reached it with a limit of 1. Now a
 * named pick obeys the limit: over it the client waits in the listener's
 * queue (up to --queue-timeout) like any other.
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { Dnsmasq } from '../helpers/dnsmasq.ts';
import { startProxy } from '../helpers/headway-process.ts';
import { makeTlsFixtures } from '../helpers/tls-fixtures.ts';
import { eventually, metricValue, refusedPort } from '../helpers/sockets.ts';

const SVC = '_tls._tcp.db.test.svc.cluster.local';

describe('--route-by sni with --max-connections-per-backend', () => {
  it('never opens more connections to the named pod than the limit; the others wait', async () => {
    const port = await refusedPort();
    const fx = makeTlsFixtures();
    let open = 0;
    let most = 0;
    const pod = createTlsServer({ cert: fx.serverCert, key: fx.serverKey }, (s) => {
      s.on('error', () => undefined);
      s.write('I am db-0');
    });
    // A connection counts as open until the proxy's FIN reaches the pod. The
    // proxy frees the slot only once its own socket is closed, but the pod may
    // accept the next connection before it handles the old one's FIN (both
    // wait in one poll), so the peak is read a moment after each accept: a
    // real breach (every client on the pod at once) lasts, that race does not.
    pod.on('connection', (c: Socket) => {
      open++;
      let counted = true;
      const leave = (): void => {
        if (counted) open--;
        counted = false;
      };
      c.on('end', leave);
      c.on('close', leave);
      setTimeout(() => {
        most = Math.max(most, open);
      }, 200);
    });
    pod.listen({ host: '127.0.0.121', port });
    await once(pod, 'listening');
    const dns = new Dnsmasq({
      ttl: 1,
      hosts: ['127.0.0.121 db-0.db.test.svc.cluster.local'],
      srv: [`${SVC},db-0.db.test.svc.cluster.local,${port},0,1`],
    });
    await dns.start();
    const proxy = await startProxy([
      '--route-by',
      'sni',
      '--sni-pattern',
      '{hostname}.db.example.com',
      '--max-connections-per-backend',
      '1',
      '--queue-timeout',
      '30s',
      '--dns-server',
      dns.server,
      '--backends',
      `srv://${SVC}`,
    ]);
    const clients: Socket[] = [];
    try {
      await eventually(async () => {
        const t = await (await fetch(`${proxy.adminUrl}/backends`)).text();
        return t.includes('127.0.0.121') ? true : undefined;
      });
      for (let i = 0; i < 3; i++) {
        const c = tlsConnect({
          host: '127.0.0.1',
          port: proxy.port,
          servername: 'db-0.db.example.com',
          rejectUnauthorized: false,
        });
        c.on('error', () => undefined);
        clients.push(c);
      }
      await eventually(async () => {
        const t = await (await fetch(`${proxy.adminUrl}/metrics`)).text();
        return metricValue(t, 'headway_queued_connections') === 2 && open === 1 ? true : undefined;
      }, 15_000);
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(most).toBe(1);
      // The first leaves: the next waiting client gets the pod, still one at a time.
      clients[0]?.destroy();
      await eventually(async () => {
        const t = await (await fetch(`${proxy.adminUrl}/metrics`)).text();
        return metricValue(t, 'headway_queued_connections') === 1 && open === 1 ? true : undefined;
      }, 15_000);
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(most).toBe(1);
    } finally {
      for (const c of clients) c.destroy();
      await proxy.stop();
      await dns.dispose();
      pod.close();
    }
  });
});
