/**
 * Defect (issue 16, item 10): discovery logs did not name the backends. A
 * change logged only "backends updated" with a count: no `backend added` /
 * `backend removed` with id and address, nothing when the flap guard held a
 * large drop back, and losing every backend was an info line like any other.
 * Now each backend that comes or goes is logged with id and address (one
 * summary line for a large change), the flap guard's hold and confirmation
 * are logged, and losing every backend is a warning.
 */
import { afterEach, expect, it } from 'vitest';
import { Dnsmasq } from '../helpers/dnsmasq.ts';
import { startProxy, type LogLine, type RunningProxy } from '../helpers/headway-process.ts';
import { dnsDiscoveryArgs, startDns } from '../kit/dns.ts';

const NAME = 'cache.prod.svc.cluster.local';
const PORT = 6379;

let dns: Dnsmasq | undefined;
let proxy: RunningProxy | undefined;

afterEach(async () => {
  await proxy?.stop();
  proxy = undefined;
  await dns?.dispose();
  dns = undefined;
});

function pods(from: number, to: number): string[] {
  const out: string[] = [];
  for (let i = from; i <= to; i++) out.push(`127.0.0.${i}`);
  return out;
}

const hosts = (ips: readonly string[]): string[] => ips.map((ip) => `${ip} ${NAME}`);

function named(p: RunningProxy, msg: string): LogLine[] {
  return p.logs.filter((l) => l.msg === msg);
}

it('logs each backend added and removed with id and address, summarises large changes, warns on the flap guard and on losing all', async () => {
  dns = await startDns({ ttl: 1, hosts: hosts(pods(31, 32)) });
  proxy = await startProxy(dnsDiscoveryArgs(dns, `dns://${NAME}:${PORT}`, '500ms'));
  const p = proxy;
  await p.waitForLog((l) => l.msg === 'backend added' && l.backend === `127.0.0.32:${PORT}`);
  const added = named(p, 'backend added');
  expect(added.map((l) => l.backend).sort()).toEqual([`127.0.0.31:${PORT}`, `127.0.0.32:${PORT}`]);
  expect(added[0]).toMatchObject({ level: 'info', address: String(added[0]?.backend) });

  // Twelve new pods at once: one summary line, not twelve.
  await dns.setHosts(hosts(pods(31, 44)));
  const summary = await p.waitForLog((l) => l.msg === 'backends added');
  expect(summary).toMatchObject({ count: 12, total: 14 });
  expect((summary.backends as string[]).length).toBe(10);
  expect(named(p, 'backend added')).toHaveLength(2);

  // One pod leaves: named.
  await dns.setHosts(hosts(pods(31, 43)));
  const removed = await p.waitForLog((l) => l.msg === 'backend removed');
  expect(removed).toMatchObject({
    level: 'info',
    backend: `127.0.0.44:${PORT}`,
    address: `127.0.0.44:${PORT}`,
  });

  // Every pod leaves (NXDOMAIN): the flap guard holds it once, then the loss is a warning.
  await dns.setHosts([]);
  const held = await p.waitForLog((l) =>
    String(l.msg).startsWith('DNS answer drops more than half of the backends'),
  );
  expect(held).toMatchObject({ level: 'warn', current: 13, answered: 0 });
  const gone = await p.waitForLog((l) => String(l.msg).startsWith('every backend is gone'));
  expect(gone).toMatchObject({ level: 'warn', removed: 13 });
  expect(named(p, 'backends removed')).toHaveLength(1);
});
