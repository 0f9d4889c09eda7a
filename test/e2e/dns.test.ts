import type { Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Dnsmasq } from '../helpers/dnsmasq.ts';
import { startProxy, type RunningProxy } from '../helpers/headway-process.ts';
import {
  closed,
  eventually,
  metricValue,
  startWhoami,
  whoAnswers,
  type Backend,
} from '../helpers/sockets.ts';
import { backendsReport } from '../kit/backends-report.ts';

const NAME = 'db.test.svc.cluster.local';
const PODS = ['127.0.0.11', '127.0.0.12', '127.0.0.13', '127.0.0.14'];

function hostsFor(ips: readonly string[]): string[] {
  return ips.map((ip, i) => `${ip} ${NAME} db-${i}.db.test.svc.cluster.local`);
}

async function listed(proxy: RunningProxy): Promise<string[]> {
  const r = await backendsReport(proxy.adminUrl);
  return (r.listeners[0]?.backends ?? [])
    .filter((b) => b.state !== 'removed')
    .map((b) => b.id)
    .sort();
}

/** Open `n` connections and return which backends answered (connections are closed). */
async function spread(proxy: RunningProxy, n: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const { who, socket } = await whoAnswers(proxy.port);
    counts.set(who, (counts.get(who) ?? 0) + 1);
    socket.end();
    await closed(socket);
  }
  return counts;
}

describe('dns:// discovery against dnsmasq', () => {
  let backends: Backend[];
  let port: number;
  let dns: Dnsmasq;
  let proxy: RunningProxy | undefined;

  beforeAll(async () => {
    const first = await startWhoami(PODS[0] as string);
    port = first.port;
    backends = [first, ...(await Promise.all(PODS.slice(1).map((ip) => startWhoami(ip, port))))];
  });

  afterAll(async () => {
    await Promise.all(backends.map((b) => b.close()));
  });

  afterEach(async () => {
    await proxy?.stop();
    proxy = undefined;
    await dns.dispose();
  });

  async function start(
    ttl: number,
    ips: readonly string[],
    extra: string[] = [],
  ): Promise<RunningProxy> {
    dns = new Dnsmasq({ ttl, hosts: hostsFor(ips) });
    await dns.start();
    proxy = await startProxy([
      '--strategy',
      'round-robin',
      '--dns-server',
      dns.server,
      '--backends',
      `dns://${NAME}:${port}`,
      ...extra,
    ]);
    return proxy;
  }

  it('resolves every A record into a backend and spreads connections over them', async () => {
    const p = await start(1, PODS.slice(0, 3));
    const ids = await eventually(async () => {
      const l = await listed(p);
      return l.length === 3 ? l : undefined;
    });
    expect(ids).toEqual(PODS.slice(0, 3).map((ip) => `${ip}:${port}`));
    const counts = await spread(p, 6);
    expect([...counts.keys()].sort()).toEqual(PODS.slice(0, 3));
    const report = await backendsReport(p.adminUrl);
    expect(report.listeners[0]?.source).toMatchObject({ kind: 'dns', name: `${NAME}.` });
    expect(report.listeners[0]?.source.lastRefreshAt).toEqual(expect.any(String));
  });

  it('scale up: a new record gets traffic within TTL + 1 s; scale down: a removed one gets none but its open connection works', async () => {
    const p = await start(1, PODS.slice(0, 2));
    await eventually(async () => ((await listed(p)).length === 2 ? true : undefined));
    // Hold a connection open to the backend that will be removed.
    let held: { who: string; socket: Socket } | undefined;
    for (let i = 0; i < 4 && held?.who !== PODS[1]; i++) {
      if (held !== undefined) held.socket.destroy();
      held = await whoAnswers(p.port);
    }
    expect(held?.who).toBe(PODS[1]);

    const changedAt = Date.now();
    await dns.setHosts(hostsFor([PODS[0] as string, PODS[2] as string]));
    // The new address gets connections once seen; the removed one stops getting them.
    const firstRouted = await eventually(
      async () => {
        const { who, socket } = await whoAnswers(p.port);
        socket.destroy();
        return who === PODS[2] ? Date.now() : undefined;
      },
      8000,
      50,
    );
    console.log(`dns change → first routed connection: ${firstRouted - changedAt} ms (TTL 1 s)`);
    expect(firstRouted - changedAt).toBeLessThan(1000 + 1000 + 1500);
    const counts = await spread(p, 6);
    expect(counts.has(PODS[1] as string)).toBe(false);
    // The open connection to the removed backend still relays.
    const socket = (held as { socket: Socket }).socket;
    socket.write('still there');
    const echoed = await new Promise<string>((resolve) =>
      socket.once('data', (c: Buffer) => resolve(c.toString())),
    );
    expect(echoed).toBe('still there');
    const report = await backendsReport(p.adminUrl);
    expect(report.listeners[0]?.backends.find((b) => b.id === `${PODS[1]}:${port}`)?.state).toBe(
      'removed',
    );
    socket.destroy();
  });

  it('keeps the last set while the DNS server is down, counting errors', async () => {
    const p = await start(1, PODS.slice(0, 2));
    await eventually(async () => ((await listed(p)).length === 2 ? true : undefined));
    await dns.stop();
    await eventually(async () => {
      const t = await (await fetch(`${p.adminUrl}/metrics`)).text();
      return metricValue(t, 'headway_discovery_errors_total', { source: 'dns' }) >= 2
        ? true
        : undefined;
    }, 15_000);
    expect(await listed(p)).toHaveLength(2);
    const counts = await spread(p, 4);
    expect(counts.size).toBe(2);
  });

  it('NXDOMAIN once keeps the set; twice in a row empties it (no_backend)', async () => {
    const p = await start(1, PODS.slice(0, 2), [
      '--dns-min-refresh',
      '1500ms',
      '--dns-max-refresh',
      '1500ms',
    ]);
    await eventually(async () => ((await listed(p)).length === 2 ? true : undefined));
    const before = dns.queries(NAME, 'A');
    await dns.setHosts([]);
    // The first NXDOMAIN answer: held, the set stays.
    await eventually(() => (dns.queries(NAME, 'A') > before ? true : undefined), 5000, 10);
    await new Promise((r) => setTimeout(r, 200));
    expect(await listed(p)).toHaveLength(2);
    // The second one confirms the drop.
    await eventually(async () => ((await listed(p)).length === 0 ? true : undefined), 8000);
    const report = await backendsReport(p.adminUrl);
    expect(report.listeners[0]?.usable).toBe(false);
    await eventually(async () => {
      const { socket } = await import('../helpers/sockets.ts').then(async (m) => ({
        socket: await m.connectTo(p.port),
      }));
      await closed(socket);
      const t = await (await fetch(`${p.adminUrl}/metrics`)).text();
      return metricValue(t, 'headway_connections_total', { outcome: 'no_backend' }) > 0
        ? true
        : undefined;
    });
  });

  it('refreshes at the TTL: about two A and two AAAA queries per TTL of 2 s', async () => {
    const p = await start(2, PODS.slice(0, 1));
    await eventually(async () => ((await listed(p)).length === 1 ? true : undefined));
    const a0 = dns.queries(NAME, 'A');
    const started = Date.now();
    await new Promise((r) => setTimeout(r, 6000));
    const elapsed = (Date.now() - started) / 1000;
    const a = dns.queries(NAME, 'A') - a0;
    console.log(
      `query rate at TTL 2 s: ${a} A queries in ${elapsed.toFixed(1)} s (${(a / elapsed).toFixed(2)}/s)`,
    );
    // Jitter shortens waits by up to 15 %: 3 to 4 refreshes in 6 s.
    expect(a).toBeGreaterThanOrEqual(2);
    expect(a).toBeLessThanOrEqual(5);
    expect(dns.queries(NAME, 'AAAA') - a0).toBeLessThanOrEqual(a + 5);
  });
});

describe('srv:// discovery against dnsmasq', () => {
  it('takes targets, ports and weights from SRV records, lowest priority group only', async () => {
    const a = await startWhoami('127.0.0.21');
    const b = await startWhoami('127.0.0.22');
    const c = await startWhoami('127.0.0.23');
    const svc = `_redis._tcp.${NAME}`;
    const dns = new Dnsmasq({
      ttl: 1,
      hosts: [
        `127.0.0.21 db-0.db.test.svc.cluster.local`,
        `127.0.0.22 db-1.db.test.svc.cluster.local`,
        `127.0.0.23 db-2.db.test.svc.cluster.local`,
      ],
      srv: [
        `${svc},db-0.db.test.svc.cluster.local,${a.port},0,10`,
        `${svc},db-1.db.test.svc.cluster.local,${b.port},0,30`,
        `${svc},db-2.db.test.svc.cluster.local,${c.port},1,50`,
      ],
    });
    await dns.start();
    const proxy = await startProxy([
      '--strategy',
      'round-robin',
      '--dns-server',
      dns.server,
      '--backends',
      `srv://${svc}`,
    ]);
    try {
      const report = await eventually(async () => {
        const r = await backendsReport(proxy.adminUrl);
        return (r.listeners[0]?.backends.length ?? 0) === 3 ? r : undefined;
      });
      const byId = new Map(report.listeners[0]?.backends.map((x) => [x.id, x]));
      expect(byId.get('db-0.db.test.svc.cluster.local')).toMatchObject({
        address: `127.0.0.21:${a.port}`,
        weight: 10,
        priority: 0,
        hostname: 'db-0.db.test.svc.cluster.local',
      });
      expect(byId.get('db-1.db.test.svc.cluster.local')).toMatchObject({
        weight: 30,
        address: `127.0.0.22:${b.port}`,
      });
      expect(byId.get('db-2.db.test.svc.cluster.local')).toMatchObject({ priority: 1 });
      // Weighted 10:30 across the priority-0 group; the priority-1 target gets nothing.
      const counts = await spread(proxy, 8);
      expect(counts.get('127.0.0.21')).toBe(2);
      expect(counts.get('127.0.0.22')).toBe(6);
      expect(counts.has('127.0.0.23')).toBe(false);

      // The priority-0 group disappears (SRV changes need a dnsmasq restart): the next group takes over.
      await dns.restartWith({ srv: [`${svc},db-2.db.test.svc.cluster.local,${c.port},1,50`] });
      await eventually(async () => {
        const { who, socket } = await whoAnswers(proxy.port);
        socket.destroy();
        return who === '127.0.0.23' ? true : undefined;
      }, 10_000);
    } finally {
      await proxy.stop();
      await dns.dispose();
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });
});
