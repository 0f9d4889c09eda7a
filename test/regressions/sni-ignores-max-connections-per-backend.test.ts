/**
 * Regression (issue 15, item 12): SNI routing ignored
 * --max-connections-per-backend: BackendPool.pickByName had no room check,
 * so three clients naming one pod all reached it with a limit of 1. Now a
 * named pick obeys the limit: over it the client waits in the listener's
 * queue (up to --queue-timeout) like any other.
 */
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/headway-process.ts';
import { eventually, metricValue, refusedPort } from '../helpers/sockets.ts';
import {
  SNI_ROUTE_ARGS,
  sniDiscoveryArgs,
  startSniDns,
  startTlsPod,
  tlsClient,
} from '../kit/sni.ts';

describe('--route-by sni with --max-connections-per-backend', () => {
  it('never opens more connections to the named pod than the limit; the others wait', async () => {
    const port = await refusedPort();
    let open = 0;
    let most = 0;
    const pod = await startTlsPod({ address: '127.0.0.121', name: 'db-0' }, port, { hold: true });
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
    const dns = await startSniDns([{ address: '127.0.0.121', name: 'db-0' }], port);
    const proxy = await startProxy([
      ...SNI_ROUTE_ARGS,
      '--max-connections-per-backend',
      '1',
      '--queue-timeout',
      '30s',
      ...sniDiscoveryArgs(dns),
    ]);
    const clients: Socket[] = [];
    try {
      await eventually(async () => {
        const t = await (await fetch(`${proxy.adminUrl}/backends`)).text();
        return t.includes('127.0.0.121') ? true : undefined;
      });
      for (let i = 0; i < 3; i++) {
        clients.push(tlsClient(proxy.port, 'db-0.db.example.com'));
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
