import { describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/headway-process.ts';
import { closed, connectTo, eventually, metricValue, refusedPort } from '../helpers/sockets.ts';
import {
  SNI_ROUTE_ARGS,
  sniDiscoveryArgs,
  startSniDns,
  startTlsPod,
  tlsHello,
  type SniPod,
} from '../kit/sni.ts';

describe('SNI routing to pods (--route-by sni)', () => {
  it('sends each TLS client to the pod its server name names, end to end, without terminating TLS', async () => {
    const port = await refusedPort();
    const named: SniPod[] = [
      { address: '127.0.0.111', name: 'db-0' },
      { address: '127.0.0.112', name: 'db-1' },
    ];
    const pods = [
      await startTlsPod(named[0] as SniPod, port),
      await startTlsPod(named[1] as SniPod, port),
    ];
    const dns = await startSniDns(named, port);
    const proxy = await startProxy([...SNI_ROUTE_ARGS, '--sni-strict', ...sniDiscoveryArgs(dns)]);
    try {
      await eventually(async () => {
        try {
          return (await tlsHello(proxy.port, 'db-1.db.example.com')) === 'I am db-1'
            ? true
            : undefined;
        } catch {
          return undefined;
        }
      });
      for (let i = 0; i < 3; i++) {
        expect(await tlsHello(proxy.port, 'db-0.db.example.com')).toBe('I am db-0');
        expect(await tlsHello(proxy.port, 'DB-1.db.example.com')).toBe('I am db-1');
      }
      // No such pod, with --sni-strict: closed.
      await expect(tlsHello(proxy.port, 'db-7.db.example.com')).rejects.toThrow();
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
      expect(await tlsHello(proxy.port, 'db-0.db.example.com')).toBe('I am db-0');
    } finally {
      await proxy.stop();
      await dns.dispose();
      for (const p of pods) p.close();
    }
  });
});
