/**
 * Regression (found beyond issue 15's list, with item 12): a client waiting
 * for a backend under --max-connections-per-backend had its --queue-timeout
 * restarted every time it was woken up and found no room again. Once named
 * picks (--route-by sni) could wait for their own pod, every connection
 * ending on another pod woke it, and with steady churn there it waited
 * forever. Now the deadline runs from when it started waiting until a
 * backend is picked.
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { Dnsmasq } from '../helpers/dnsmasq.ts';
import { startProxy } from '../helpers/headway-process.ts';
import { makeTlsFixtures } from '../helpers/tls-fixtures.ts';
import { eventually, refusedPort } from '../helpers/sockets.ts';

const SVC = '_tls._tcp.db.test.svc.cluster.local';

function tls(port: number, servername: string): TLSSocket {
  const s = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
  s.on('error', () => undefined);
  return s;
}

describe('--queue-timeout while other connections come and go', () => {
  it('closes a waiting client at its deadline although it is woken up again and again', async () => {
    const port = await refusedPort();
    const fx = makeTlsFixtures();
    const pods = [];
    // db-0 holds its connections; db-1 answers and closes at once.
    for (const [host, name, hold] of [
      ['127.0.0.141', 'db-0', true],
      ['127.0.0.142', 'db-1', false],
    ] as const) {
      const pod = createTlsServer({ cert: fx.serverCert, key: fx.serverKey }, (s) => {
        s.on('error', () => undefined);
        if (hold) s.write(`I am ${name}`);
        else s.end(`I am ${name}`);
      });
      pod.listen({ host, port });
      await once(pod, 'listening');
      pods.push(pod);
    }
    const dns = new Dnsmasq({
      ttl: 1,
      hosts: [
        '127.0.0.141 db-0.db.test.svc.cluster.local',
        '127.0.0.142 db-1.db.test.svc.cluster.local',
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
      '--max-connections-per-backend',
      '1',
      '--queue-timeout',
      '2s',
      '--dns-server',
      dns.server,
      '--backends',
      `srv://${SVC}`,
    ]);
    const sockets: Socket[] = [];
    let churning = true;
    try {
      await eventually(async () => {
        const t = await (await fetch(`${proxy.adminUrl}/backends`)).text();
        return t.includes('127.0.0.141') && t.includes('127.0.0.142') ? true : undefined;
      }, 15_000);
      const holder = tls(proxy.port, 'db-0.db.example.com');
      sockets.push(holder);
      let held = false;
      holder.on('data', () => (held = true));
      await eventually(() => (held ? true : undefined), 15_000);
      // A second client naming db-0 waits for it.
      const waiter = tls(proxy.port, 'db-0.db.example.com');
      sockets.push(waiter);
      let answered = false;
      let waiterClosed = false;
      waiter.on('data', () => (answered = true));
      waiter.on('close', () => (waiterClosed = true));
      // Meanwhile a short connection to db-1 every 200 ms: each one ending wakes the queue.
      const churn = (async () => {
        while (churning) {
          const c = tls(proxy.port, 'db-1.db.example.com');
          c.resume();
          sockets.push(c);
          await new Promise((r) => setTimeout(r, 200));
        }
      })();
      await eventually(() => (waiterClosed ? true : undefined), 15_000);
      churning = false;
      await churn;
      expect(answered).toBe(false);
    } finally {
      churning = false;
      for (const s of sockets) s.destroy();
      await proxy.stop();
      await dns.dispose();
      for (const p of pods) p.close();
    }
  });
});
