/**
 * Defect (issue 16, item 8): a name that does not exist at start was silent.
 * `dns://no-such-name:6379` (or a short name that the resolv.conf search list
 * would have completed, which Headway never uses) got NXDOMAIN: no log line,
 * `lastError` null in /backends, and clients were just reset. Now NXDOMAIN is
 * logged at warn level once, naming the name and the server, shown in
 * /backends `lastError`, and a name that is not fully qualified gets a hint
 * that the search list is not used and a suggested full name.
 */
import { afterEach, expect, it } from 'vitest';
import { Dnsmasq } from '../helpers/dnsmasq.ts';
import { startProxy, type RunningProxy } from '../helpers/headway-process.ts';
import { eventually } from '../helpers/sockets.ts';
import { dnsDiscoveryArgs, startDns } from '../kit/dns.ts';
import { backendsReport } from '../kit/backends-report.ts';

let dns: Dnsmasq | undefined;
let proxy: RunningProxy | undefined;

afterEach(async () => {
  await proxy?.stop();
  proxy = undefined;
  await dns?.dispose();
  dns = undefined;
});

async function run(uri: string): Promise<RunningProxy> {
  // Every name is local to this dnsmasq: an unknown one is NXDOMAIN, as from CoreDNS.
  dns = await startDns({ ttl: 1, hosts: [], localDomains: ['#'] });
  proxy = await startProxy(dnsDiscoveryArgs(dns, uri, '500ms'));
  return proxy;
}

it('a short name that does not exist: NXDOMAIN warned with name, server and a full-name hint; lastError set', async () => {
  const p = await run('dns://no-such-name:6379');
  const server = (dns as Dnsmasq).server;
  const line = await p.waitForLog((l) => l.msg === 'DNS name does not exist (NXDOMAIN)', 10_000);
  expect(line).toMatchObject({ level: 'warn', name: 'no-such-name.', server });
  expect(String(line.hint)).toContain('search list');
  expect(String(line.hint)).toContain('no-such-name.NAMESPACE.svc.cluster.local');
  const source = await eventually(async () => {
    const r = await backendsReport(p.adminUrl);
    const s = r.listeners[0]?.source;
    return s?.lastError !== null && s?.lastError !== undefined ? s : undefined;
  });
  expect(String(source.lastError)).toContain('nxdomain');
  expect(String(source.lastError)).toContain('no-such-name.');
  expect(String(source.lastError)).toContain(server);
  expect(String(source.lastError)).toContain('no-such-name.NAMESPACE.svc.cluster.local');
  // Several refreshes later the warning is still said once.
  await eventually(() => ((dns as Dnsmasq).queries('no-such-name', 'A') >= 3 ? true : undefined));
  expect(p.logs.filter((l) => l.msg === 'DNS name does not exist (NXDOMAIN)')).toHaveLength(1);
});

it('a fully qualified name that does not exist: warned without a hint', async () => {
  const p = await run('dns://gone.prod.svc.cluster.local:6379');
  const line = await p.waitForLog((l) => l.msg === 'DNS name does not exist (NXDOMAIN)', 10_000);
  expect(line).toMatchObject({ level: 'warn', name: 'gone.prod.svc.cluster.local.' });
  expect(line.hint).toBeUndefined();
});
