/**
 * Defect (issue 16, item 7): with the default `--dns-family any`, one refused
 * AAAA query threw away a good A answer. dnsmasq without an upstream answers
 * A for a hosts-file name and refuses its AAAA; Headway ran with zero backends,
 * logging "DNS lookup failed: refused" and "keeping the last known backends"
 * when it knew none. Each family is now its own query with its own outcome:
 * the A answer is used, the refused AAAA is counted and logged (naming the
 * record type and the server) once, not on every refresh. Same for an SRV
 * target whose A works and whose AAAA is refused.
 */
import { afterEach, expect, it } from 'vitest';
import { Dnsmasq } from '../helpers/dnsmasq.ts';
import { startProxy, type LogLine, type RunningProxy } from '../helpers/headway-process.ts';
import { dnsDiscoveryArgs, startDns } from '../kit/dns.ts';
import {
  closed,
  eventually,
  metricValue,
  startWhoami,
  whoAnswers,
  type Backend,
} from '../helpers/sockets.ts';
import { backendsReport } from '../kit/backends-report.ts';

// Outside dnsmasq's local domain: A from the hosts file, AAAA refused (no upstream).
const NAME = 'redis.example';
const PODS = ['127.0.0.21', '127.0.0.22'];

let dns: Dnsmasq | undefined;
let proxy: RunningProxy | undefined;
let backends: Backend[] = [];

afterEach(async () => {
  await proxy?.stop();
  proxy = undefined;
  await dns?.dispose();
  dns = undefined;
  await Promise.all(backends.map((b) => b.close()));
  backends = [];
});

async function startPods(): Promise<number> {
  const first = await startWhoami(PODS[0] as string);
  backends = [first, await startWhoami(PODS[1] as string, first.port)];
  return first.port;
}

async function listed(p: RunningProxy): Promise<string[]> {
  const r = await backendsReport(p.adminUrl);
  return (r.listeners[0]?.backends ?? [])
    .filter((b) => b.state !== 'removed')
    .map((b) => b.id)
    .sort();
}

function refusedAaaaLines(logs: readonly LogLine[]): LogLine[] {
  return logs.filter(
    (l) => JSON.stringify(l).includes('AAAA') && /refused/i.test(JSON.stringify(l)),
  );
}

it('dns://: a refused AAAA does not discard the A answer; the refusal is logged once, naming AAAA and the server', async () => {
  const port = await startPods();
  dns = await startDns({ ttl: 1, hosts: PODS.map((ip) => `${ip} ${NAME}`) });
  proxy = await startProxy(dnsDiscoveryArgs(dns, `dns://${NAME}:${port}`, '500ms'));
  const p = proxy;
  const ids = await eventually(async () => {
    const l = await listed(p);
    return l.length === 2 ? l : undefined;
  }, 10_000);
  expect(ids).toEqual(PODS.map((ip) => `${ip}:${port}`));
  // Clients reach the pods.
  const { who, socket } = await whoAnswers(p.port);
  expect(PODS).toContain(who);
  socket.destroy();
  await closed(socket);
  // Several refreshes later: the refusal was counted each time, logged once.
  const server = dns.server;
  await eventually(
    () => (dns !== undefined && dns.queries(NAME, 'AAAA') >= 4 ? true : undefined),
    10_000,
  );
  const metrics = await (await fetch(`${p.adminUrl}/metrics`)).text();
  expect(
    metricValue(metrics, 'headway_discovery_errors_total', { source: 'dns', reason: 'refused' }),
  ).toBeGreaterThanOrEqual(2);
  const lines = refusedAaaaLines(p.logs);
  expect(lines).toHaveLength(1);
  expect(JSON.stringify(lines[0])).toContain(server);
  expect(lines[0]?.level).toBe('warn');
  // Never the misleading "keeping the last known backends".
  expect(p.logs.filter((l) => String(l.msg).includes('keeping the last known'))).toEqual([]);
  const report = await backendsReport(p.adminUrl);
  expect(String(report.listeners[0]?.source.lastError)).toMatch(/AAAA/);
});

it('srv://: a target whose A works and whose AAAA is refused is used', async () => {
  const port = await startPods();
  dns = new Dnsmasq({
    ttl: 1,
    hosts: PODS.map((ip, i) => `${ip} redis-${i}.example`),
    srv: PODS.map((_, i) => `_redis._tcp.redis.example,redis-${i}.example,${port},0,10`),
    // The SRV name itself answered locally; its targets' AAAA refused.
    localDomains: ['_tcp.redis.example'],
  });
  await dns.start();
  proxy = await startProxy([
    '--dns-server',
    dns.server,
    '--backends',
    'srv://_redis._tcp.redis.example',
  ]);
  const p = proxy;
  const ids = await eventually(async () => {
    const l = await listed(p);
    return l.length === 2 ? l : undefined;
  }, 10_000);
  expect(ids).toEqual(['redis-0.example', 'redis-1.example']);
  expect(refusedAaaaLines(p.logs).length).toBeGreaterThanOrEqual(1);
});

it('when every family is refused and no backend is known, the log does not claim to keep any', async () => {
  // Not in the hosts file and outside the local domain: A and AAAA both refused.
  dns = new Dnsmasq({ ttl: 1, hosts: [] });
  await dns.start();
  proxy = await startProxy(['--dns-server', dns.server, '--backends', `dns://${NAME}:6379`]);
  const p = proxy;
  const line = await p.waitForLog((l) => String(l.msg).startsWith('discovery error'), 10_000);
  expect(line.msg).toBe('discovery error; no backends known: new connections are refused');
  expect(String(line.error)).toContain(`A ${NAME}. refused (server ${dns.server})`);
  expect(String(line.error)).toContain(`AAAA ${NAME}. refused (server ${dns.server})`);
});
