/**
 * Regression (found beyond issue 15's list, with item 12): a client waiting
 * for a backend under --max-connections-per-backend had its --queue-timeout
 * restarted every time it was woken up and found no room again. Once named
 * picks (--route-by sni) could wait for their own pod, every connection
 * ending on another pod woke it, and with steady churn there it waited
 * forever. Now the deadline runs from when it started waiting until a
 * backend is picked.
 */
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/headway-process.ts';
import { eventually, refusedPort } from '../helpers/sockets.ts';
import {
  SNI_ROUTE_ARGS,
  sniDiscoveryArgs,
  startSniDns,
  startTlsPod,
  tlsClient,
  type SniPod,
} from '../kit/sni.ts';

describe('--queue-timeout while other connections come and go', () => {
  it('closes a waiting client at its deadline although it is woken up again and again', async () => {
    const port = await refusedPort();
    const named: SniPod[] = [
      { address: '127.0.0.141', name: 'db-0' },
      { address: '127.0.0.142', name: 'db-1' },
    ];
    // db-0 holds its connections; db-1 answers and closes at once.
    const pods = [
      await startTlsPod(named[0] as SniPod, port, { hold: true }),
      await startTlsPod(named[1] as SniPod, port),
    ];
    const dns = await startSniDns(named, port);
    const proxy = await startProxy([
      ...SNI_ROUTE_ARGS,
      '--max-connections-per-backend',
      '1',
      '--queue-timeout',
      '2s',
      ...sniDiscoveryArgs(dns),
    ]);
    const sockets: Socket[] = [];
    let churning = true;
    try {
      await eventually(async () => {
        const t = await (await fetch(`${proxy.adminUrl}/backends`)).text();
        return t.includes('127.0.0.141') && t.includes('127.0.0.142') ? true : undefined;
      }, 15_000);
      const holder = tlsClient(proxy.port, 'db-0.db.example.com');
      sockets.push(holder);
      let held = false;
      holder.on('data', () => (held = true));
      await eventually(() => (held ? true : undefined), 15_000);
      // A second client naming db-0 waits for it.
      const waiter = tlsClient(proxy.port, 'db-0.db.example.com');
      sockets.push(waiter);
      let answered = false;
      let waiterClosed = false;
      waiter.on('data', () => (answered = true));
      waiter.on('close', () => (waiterClosed = true));
      // Meanwhile a short connection to db-1 every 200 ms: each one ending wakes the queue.
      const churn = (async () => {
        while (churning) {
          const c = tlsClient(proxy.port, 'db-1.db.example.com');
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
