import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeKubeApi, endpoint, port, type EndpointInput } from '../helpers/fake-kube-api.ts';
import { runHeadway, startProxy, type RunningProxy } from '../helpers/headway-process.ts';
import {
  closed,
  connectTo,
  getJson,
  eventually,
  freePortRange,
  metricValue,
  startWhoami,
  whoAnswers,
  type Backend,
} from '../helpers/sockets.ts';
import { listenerReport, type ListenerReport } from '../kit/backends-report.ts';

const NS = 'prod';
const PODS = ['127.0.0.31', '127.0.0.32', '127.0.0.33', '127.0.0.34'];

function report(proxy: RunningProxy): Promise<ListenerReport> {
  return listenerReport(proxy.adminUrl);
}

/** Listed backends and their states (`removed` ones, kept while connections drain, left out). */
async function states(proxy: RunningProxy): Promise<string> {
  const l = await report(proxy);
  return l.backends
    .filter((b) => b.state !== 'removed')
    .map((b) => `${b.id}=${b.state}`)
    .sort()
    .join(' ');
}

async function waitStates(proxy: RunningProxy, want: string, timeoutMs = 10_000): Promise<void> {
  await eventually(async () => ((await states(proxy)) === want ? true : undefined), timeoutMs, 10);
}

/** Which backends answer `n` new connections. */
async function answers(proxy: RunningProxy, n: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const { who, socket } = await whoAnswers(proxy.port);
    seen.add(who);
    socket.destroy();
  }
  return seen;
}

function pod(i: number, opts: Omit<EndpointInput, 'ip' | 'addresses'> = {}): EndpointInput {
  return endpoint(PODS[i] as string, {
    pod: `db-${i}`,
    hostname: `db-${i}`,
    node: `node-${i}`,
    zone: 'zone-a',
    ...opts,
  });
}

describe('k8s:// EndpointSlice discovery against a fake API server', () => {
  let api: FakeKubeApi;
  let backends: Backend[];
  let redisPort: number;
  let kubeconfig: string;
  let proxy: RunningProxy | undefined;

  beforeAll(async () => {
    const first = await startWhoami(PODS[0] as string);
    redisPort = first.port;
    backends = [
      first,
      ...(await Promise.all(PODS.slice(1).map((ip) => startWhoami(ip, redisPort)))),
    ];
  });

  afterAll(async () => {
    await Promise.all(backends.map((b) => b.close()));
  });

  beforeEach(async () => {
    api = await FakeKubeApi.start();
    kubeconfig = join(mkdtempSync(join(tmpdir(), 'headway-kube-')), 'config');
    api.writeKubeconfig(kubeconfig, { namespace: NS });
  });

  afterEach(async () => {
    await proxy?.stop();
    proxy = undefined;
    await api.close();
  });

  function slice(name: string, endpoints: EndpointInput[], ports = [port(redisPort, 'redis')]) {
    api.upsertSlice({ namespace: NS, name, service: 'db', ports, endpoints });
  }

  async function start(extra: string[] = [], uri = `k8s://db:redis`): Promise<RunningProxy> {
    proxy = await startProxy([
      '--kubeconfig',
      kubeconfig,
      '--strategy',
      'round-robin',
      '--backends',
      uri,
      ...extra,
    ]);
    return proxy;
  }

  it('merges slices, dedupes, and shows pod identity in /backends', async () => {
    slice('db-a', [pod(0), pod(1, { ready: false, terminating: true })]);
    // The same pod in a second slice, not terminating there: that entry wins.
    slice('db-b', [pod(1), pod(2)]);
    const p = await start();
    await waitStates(p, 'db-0=ready db-1=ready db-2=ready');
    const l = await report(p);
    expect(l.source).toMatchObject({
      kind: 'k8s',
      namespace: NS,
      service: 'db',
      credentials: 'kubeconfig',
    });
    expect(l.backends.find((b) => b.id === 'db-0')).toMatchObject({
      address: `${PODS[0]}:${redisPort}`,
      pod: 'db-0',
      hostname: 'db-0',
      node: 'node-0',
      zone: 'zone-a',
    });
    expect(await answers(p, 6)).toEqual(new Set(PODS.slice(0, 3)));
  });

  it('follows scale-up and scale-down within milliseconds; open connections survive removal', async () => {
    slice('db-a', [pod(0), pod(1)]);
    const p = await start();
    await waitStates(p, 'db-0=ready db-1=ready');
    let held = await whoAnswers(p.port);
    while (held.who !== PODS[1]) {
      held.socket.destroy();
      held = await whoAnswers(p.port);
    }
    const t0 = performance.now();
    slice('db-a', [pod(0), pod(2)]);
    await waitStates(p, 'db-0=ready db-2=ready', 5000);
    const reaction = performance.now() - t0;
    // The removed pod stays listed as `removed` while its connection is open.
    expect((await report(p)).backends.find((b) => b.id === 'db-1')?.state).toBe('removed');
    console.log(`EndpointSlice event → routing visible in /backends: ${reaction.toFixed(1)} ms`);
    expect(reaction).toBeLessThan(2000);
    const seen = await answers(p, 6);
    expect(seen.has(PODS[1])).toBe(false);
    expect(seen.has(PODS[2] as string)).toBe(true);
    held.socket.write('still here');
    const echoed = await new Promise<string>((resolve) =>
      held.socket.once('data', (c: Buffer) => resolve(c.toString())),
    );
    expect(echoed).toBe('still here');
    held.socket.destroy();
  });

  it('drains terminating pods: no new connections while a ready one exists, fallback when none does', async () => {
    slice('db-a', [pod(0), pod(1)]);
    const p = await start();
    await waitStates(p, 'db-0=ready db-1=ready');
    slice('db-a', [pod(0), pod(1, { ready: false, serving: true, terminating: true })]);
    await waitStates(p, 'db-0=ready db-1=draining');
    expect(await answers(p, 4)).toEqual(new Set([PODS[0]]));
    // Every pod terminating: serving+terminating endpoints take the traffic (KEP-1669).
    slice('db-a', [
      pod(0, { ready: false, terminating: true }),
      pod(1, { ready: false, terminating: true }),
    ]);
    await waitStates(p, 'db-0=draining db-1=draining');
    expect((await report(p)).tier).toBe('draining-fallback');
    expect(await answers(p, 4)).toEqual(new Set([PODS[0], PODS[1]]));
    // Not serving any more: nothing left to pick.
    slice('db-a', [pod(0, { ready: false, serving: false, terminating: true })]);
    await waitStates(p, 'db-0=not-serving');
    expect((await report(p)).usable).toBe(false);
  });

  it('uses serving, not ready, under publishNotReadyAddresses (ready is always true)', async () => {
    slice('db-a', [pod(0), pod(1, { ready: true, serving: false, terminating: false })]);
    const p = await start();
    await waitStates(p, 'db-0=ready db-1=not-serving');
    expect(await answers(p, 4)).toEqual(new Set([PODS[0]]));
  });

  it('pairs each endpoint with its own slice port and ignores UDP ports', async () => {
    const other = await startWhoami(PODS[3] as string);
    try {
      slice('db-a', [pod(0)], [port(redisPort, 'redis'), port(redisPort, 'redis-udp', 'UDP')]);
      // A pod whose named port resolves to another number sits in its own slice.
      slice('db-b', [pod(3)], [port(other.port, 'redis')]);
      const p = await start([], 'k8s://prod/db');
      await waitStates(p, 'db-0=ready db-3=ready');
      const l = await report(p);
      expect(l.backends.find((b) => b.id === 'db-3')?.address).toBe(`${PODS[3]}:${other.port}`);
      expect(await answers(p, 4)).toEqual(new Set([PODS[0], PODS[3]]));
    } finally {
      await other.close();
    }
  });

  it('exits 2 listing the ports when a Service has several and none is named', async () => {
    slice('db-a', [pod(0)], [port(redisPort, 'redis'), port(9121, 'metrics')]);
    const r = await runHeadway([
      '--listen',
      '127.0.0.1:0',
      '--admin',
      'off',
      '--kubeconfig',
      kubeconfig,
      '--backends',
      'k8s://db',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/several TCP ports.*choices: metrics, redis/);
  });

  it('relists after 410 Gone without losing or duplicating endpoints', async () => {
    slice('db-a', [pod(0)]);
    slice('db-b', [pod(1)]);
    const p = await start();
    await waitStates(p, 'db-0=ready db-1=ready');
    const lists = api.count('list');
    // While the watch is expired, one slice changes and one disappears.
    api.compact();
    api.failNextWatches(1, 'status-410');
    api.expireWatchers();
    slice('db-a', [pod(0), pod(2)]);
    api.deleteSlice(NS, 'db-b');
    await waitStates(p, 'db-0=ready db-2=ready');
    expect(api.count('list')).toBeGreaterThan(lists);
    const l = await report(p);
    expect(l.backends.filter((b) => b.id === 'db-0')).toHaveLength(1);
  });

  it('resumes a dropped watch from its resourceVersion without missing an event', async () => {
    slice('db-a', [pod(0)]);
    const p = await start();
    await waitStates(p, 'db-0=ready');
    const lists = api.count('list');
    api.failNextWatches(1, 'status-500');
    api.dropWatchers();
    // Changed while no watch is connected: delivered from history on reconnect.
    slice('db-a', [pod(0), pod(1)]);
    await waitStates(p, 'db-0=ready db-1=ready');
    expect(api.count('list')).toBe(lists);
    const watches = api.requests.filter((r) => r.kind === 'watch');
    expect(watches.at(-1)?.query.resourceVersion).toBeDefined();
    expect(watches.at(-1)?.query.allowWatchBookmarks).toBe('true');
  });

  it('backs off under a storm of 500s and keeps serving the last set', async () => {
    slice('db-a', [pod(0)]);
    const p = await start();
    await waitStates(p, 'db-0=ready');
    const before = api.count('watch');
    api.failNextWatches(1000, 'status-500');
    api.dropWatchers();
    const started = Date.now();
    await new Promise((r) => setTimeout(r, 4000));
    const storm = api.count('watch') - before;
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `500 storm: ${storm} watch requests in ${seconds.toFixed(1)} s (capped exponential backoff)`,
    );
    // 0.5 s doubling with jitter: at most ~5 attempts in 4 s, never a tight loop.
    expect(storm).toBeGreaterThanOrEqual(2);
    expect(storm).toBeLessThanOrEqual(7);
    expect(await answers(p, 2)).toEqual(new Set([PODS[0]]));
    const text = await (await fetch(`${p.adminUrl}/metrics`)).text();
    expect(
      metricValue(text, 'headway_discovery_errors_total', {
        source: 'k8s',
        reason: 'server_error',
      }),
    ).toBeGreaterThan(0);
    api.clearFaults();
    slice('db-a', [pod(0), pod(1)]);
    await waitStates(p, 'db-0=ready db-1=ready', 40_000);
  });

  it('restarts a hung watch (no bytes) after --k8s-watch-timeout', async () => {
    slice('db-a', [pod(0)]);
    const p = await start(['--k8s-watch-timeout', '1s']);
    await waitStates(p, 'db-0=ready');
    api.failNextWatches(1, 'hang');
    api.dropWatchers();
    await eventually(() => (api.watchersConnected() >= 1 ? true : undefined));
    slice('db-a', [pod(0), pod(1)]);
    // The hung stream never delivers it; the restarted watch does.
    await waitStates(p, 'db-0=ready db-1=ready', 15_000);
  });

  it('keeps the last set when the API server goes away', async () => {
    slice('db-a', [pod(0), pod(1)]);
    const p = await start();
    await waitStates(p, 'db-0=ready db-1=ready');
    await api.close();
    await new Promise((r) => setTimeout(r, 1500));
    expect(await states(p)).toBe('db-0=ready db-1=ready');
    expect(await answers(p, 4)).toEqual(new Set([PODS[0], PODS[1]]));
  });

  it('has no usable backend while the API answers errors at start, then catches up', async () => {
    slice('db-a', [pod(0)]);
    api.failNextLists(2, 'status-500');
    const p = await start(['--ready-requires-backends']);
    const l = await report(p);
    expect(l.usable).toBe(false);
    expect((await fetch(`${p.adminUrl}/readyz`)).status).toBe(503);
    const socket = await connectTo(p.port);
    await closed(socket);
    await waitStates(p, 'db-0=ready', 15_000);
    expect((await fetch(`${p.adminUrl}/readyz`)).status).toBe(200);
  });

  it('counts a wrong token as unauthorized', async () => {
    api.writeKubeconfig(kubeconfig, { namespace: NS, token: 'wrong' });
    slice('db-a', [pod(0)]);
    const p = await start();
    await eventually(async () => {
      const text = await (await fetch(`${p.adminUrl}/metrics`)).text();
      return metricValue(text, 'headway_discovery_errors_total', { reason: 'unauthorized' }) > 0
        ? true
        : undefined;
    });
    expect((await report(p)).usable).toBe(false);
  });

  it('prefers endpoints of its own zone (hints, else zone), falling back to all', async () => {
    slice('db-a', [
      pod(0, { zone: 'zone-a' }),
      pod(1, { zone: 'zone-b' }),
      pod(2, { zone: 'zone-b' }),
    ]);
    const p = await start(['--zone', 'zone-b']);
    await waitStates(p, 'db-0=ready db-1=ready db-2=ready');
    expect(await answers(p, 4)).toEqual(new Set([PODS[1], PODS[2]]));
    // Hints override the zone: db-0 is hinted for zone-b.
    slice('db-a', [
      pod(0, { zone: 'zone-a', forZones: ['zone-b'] }),
      pod(1, { zone: 'zone-b', forZones: ['zone-a'] }),
      pod(2, { zone: 'zone-b', forZones: ['zone-a'] }),
    ]);
    await eventually(async () => {
      const seen = await answers(p, 3);
      return seen.size === 1 && seen.has(PODS[0] as string) ? true : undefined;
    });
    // Nothing for zone-b any more: every ready endpoint is used.
    slice('db-a', [pod(0, { zone: 'zone-a' }), pod(1, { zone: 'zone-a' })]);
    await waitStates(p, 'db-0=ready db-1=ready');
    expect(await answers(p, 4)).toEqual(new Set([PODS[0], PODS[1]]));
  });

  it('uses in-cluster credentials inside a pod (service-account files, KUBERNETES_SERVICE_HOST)', async () => {
    slice('db-a', [pod(0)]);
    const files = mkdtempSync(join(tmpdir(), 'headway-sa-'));
    api.inClusterFiles(files, NS);
    // The service-account directory is a fixed path: mount it in a private
    // mount namespace for the proxy alone, as the kubelet would.
    const sa = '/run/secrets/kubernetes.io/serviceaccount';
    const p = await startProxy(
      ['--strategy', 'round-robin', '--backends', 'k8s://db:redis'],
      api.inClusterEnv(),
      (argv) => [
        'unshare',
        '--mount',
        'sh',
        '-c',
        `mount -t tmpfs tmpfs /run && mkdir -p ${sa} && cp ${files}/* ${sa}/ && exec "$@"`,
        'sh',
        ...argv,
      ],
    );
    proxy = p;
    await waitStates(p, 'db-0=ready');
    expect((await report(p)).source).toMatchObject({ credentials: 'in-cluster', namespace: NS });
    expect(api.requests.some((r) => r.token === api.token)).toBe(true);
  });

  it('--select hostname=db-1 pins the listener to that pod across an IP change, and has no backend while it is gone', async () => {
    slice('db-a', [pod(0), pod(1)]);
    const p = await start(['--select', 'hostname=db-1']);
    await waitStates(p, 'db-1=ready');
    expect(await answers(p, 3)).toEqual(new Set([PODS[1]]));
    // The pod restarts with a new IP (127.0.0.33): same id, new address.
    slice('db-a', [pod(0), endpoint(PODS[2] as string, { pod: 'db-1', hostname: 'db-1' })]);
    await eventually(async () => {
      const l = await report(p);
      return l.backends.find((b) => b.id === 'db-1')?.address === `${PODS[2]}:${redisPort}`
        ? true
        : undefined;
    });
    expect(await answers(p, 3)).toEqual(new Set([PODS[2]]));
    // Gone: nothing to route to.
    slice('db-a', [pod(0)]);
    await eventually(async () => ((await report(p)).usable ? undefined : true));
  });

  it('--per-pod-ports opens one listener per pod on BASE + ordinal; two instances agree', async () => {
    const base = await freePortRange(5);
    slice('db-a', [
      pod(0),
      pod(1),
      pod(2),
      endpoint('127.0.0.35', { pod: 'web-x', hostname: 'web-x' }),
    ]);
    const p = await start(['--per-pod-ports', String(base), '--per-pod-max', '4']);
    const twin = await startProxy([
      '--kubeconfig',
      kubeconfig,
      '--listen',
      '127.0.0.1:0',
      '--per-pod-ports',
      String(base + 100),
      '--per-pod-max',
      '4',
      '--backends',
      'k8s://db:redis',
    ]);
    try {
      type Pods = { listeners: { pods: { pod: string; ordinal: number; port: number }[] }[] };
      const pods = async (url: string): Promise<string> => {
        const r = await getJson<Pods>(`${url}/pods`);
        return (r.listeners[0]?.pods ?? []).map((x) => `${x.pod}:${x.port}`).join(' ');
      };
      await eventually(async () =>
        (await pods(p.adminUrl)) === `db-0:${base} db-1:${base + 1} db-2:${base + 2}`
          ? true
          : undefined,
      );
      for (let i = 0; i < 3; i++) {
        const { who, socket } = await whoAnswers(base + i);
        expect(who).toBe(PODS[i]);
        socket.destroy();
      }
      // The other replica builds the same map (its own base port here, to share the machine).
      await eventually(async () =>
        (await pods(twin.adminUrl)) === `db-0:${base + 100} db-1:${base + 101} db-2:${base + 102}`
          ? true
          : undefined,
      );
      expect(p.logs.some((l) => String(l.msg).includes('no StatefulSet ordinal'))).toBe(true);
      // db-1 leaves: its listener drains; it returns with a new IP on the same port; db-3 joins.
      slice('db-a', [pod(0), pod(2)]);
      await eventually(async () =>
        (await pods(p.adminUrl)) === `db-0:${base} db-2:${base + 2}` ? true : undefined,
      );
      await expect(connectTo(base + 1)).rejects.toThrow();
      slice('db-a', [
        pod(0),
        endpoint(PODS[3] as string, { pod: 'db-1', hostname: 'db-1' }),
        pod(2),
        endpoint('127.0.0.36', { pod: 'db-3', hostname: 'db-3' }),
      ]);
      await eventually(async () =>
        (await pods(p.adminUrl)) ===
        `db-0:${base} db-1:${base + 1} db-2:${base + 2} db-3:${base + 3}`
          ? true
          : undefined,
      );
      const back = await whoAnswers(base + 1);
      expect(back.who).toBe(PODS[3]);
      back.socket.destroy();
    } finally {
      await twin.stop();
    }
  });
});
