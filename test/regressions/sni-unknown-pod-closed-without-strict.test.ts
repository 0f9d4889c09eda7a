/**
 * Regression (issue 15, item 13): without --sni-strict, a server name that
 * fits --sni-pattern but names no pod was closed as no_backend, contrary to
 * the docs ("goes to the strategy"); a named pod that was down was tried,
 * and on failure the connection was closed too. Now both go to the
 * strategy; with --sni-strict both are refused.
 */
import { describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/headway-process.ts';
import { eventually, refusedPort } from '../helpers/sockets.ts';
import {
  SNI_ROUTE_ARGS,
  sniDiscoveryArgs,
  startSniDns,
  startTlsPod,
  tlsHello,
} from '../kit/sni.ts';

describe('--route-by sni without --sni-strict', () => {
  it('sends a name of no pod, or of a pod that is down, to the strategy; --sni-strict refuses both', async () => {
    const port = await refusedPort();
    // db-0 answers; db-2 is listed but nothing listens at its address (down).
    const pod = await startTlsPod({ address: '127.0.0.131', name: 'db-0' }, port);
    const dns = await startSniDns(
      [
        { address: '127.0.0.131', name: 'db-0' },
        { address: '127.0.0.133', name: 'db-2' },
      ],
      port,
    );
    const common = [...SNI_ROUTE_ARGS, '--connect-retries', '2', ...sniDiscoveryArgs(dns)];
    const lenient = await startProxy(common);
    const strict = await startProxy(['--sni-strict', ...common]);
    try {
      for (const p of [lenient, strict]) {
        await eventually(async () => {
          try {
            return (await tlsHello(p.port, 'db-0.db.example.com')) === 'I am db-0'
              ? true
              : undefined;
          } catch {
            return undefined;
          }
        }, 15_000);
      }
      // No such pod: the strategy picks one (only db-0 answers; a try on db-2 fails over).
      expect(await tlsHello(lenient.port, 'db-7.db.example.com')).toBe('I am db-0');
      // The named pod is down: same rule.
      expect(await tlsHello(lenient.port, 'db-2.db.example.com')).toBe('I am db-0');
      await expect(tlsHello(strict.port, 'db-7.db.example.com')).rejects.toThrow();
      await expect(tlsHello(strict.port, 'db-2.db.example.com')).rejects.toThrow();
    } finally {
      await lenient.stop();
      await strict.stop();
      await dns.dispose();
      pod.close();
    }
  });
});
