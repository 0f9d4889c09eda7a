import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  connect as tlsConnect,
  createServer as createTlsServer,
  type Server as TlsServer,
} from 'node:tls';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeKubeApi, endpoint, port } from '../helpers/fake-kube-api.ts';
import { CORE_KINDS, gatewayApiKinds, type KubeObject } from '../helpers/fake-kube-objects.ts';
import { makeTlsFixtures } from '../helpers/tls-fixtures.ts';
import { spawnHeadway, type HeadwayProcess } from '../helpers/headway-process.ts';
import {
  connectTo,
  eventually,
  freePortRange,
  identify,
  startWhoami,
  type Backend,
} from '../helpers/sockets.ts';

const CONTROLLER = 'headway-proxy.io/gateway-controller';

interface GatewayStatusBody {
  conditions: Cond[];
  listeners: {
    name: string;
    attachedRoutes: number;
    supportedKinds: unknown[];
    conditions: Cond[];
  }[];
}
/** Pods of infra/redis, and the one pod of infra/redis-b and db/pg. */
const REDIS = ['127.0.0.41', '127.0.0.42'];
const REDIS_B = '127.0.0.43';
const PG = '127.0.0.46';
/** TLS pods of infra/tls-a and infra/tls-b. */
const TLS_A = '127.0.0.44';
const TLS_B = '127.0.0.45';

/** A TLS server standing for a pod: after the handshake it says who it is and closes. */
async function tlsPod(host: string, port: number): Promise<TlsServer> {
  const fx = makeTlsFixtures();
  const server = createTlsServer({ cert: fx.serverCert, key: fx.serverKey }, (s) => {
    s.on('error', () => undefined);
    s.end(host);
  });
  server.listen({ host, port });
  await once(server, 'listening');
  return server;
}

/** The pod a TLS client with this server name reaches through `port`, or `closed`. */
function tlsWho(port: number, servername: string): Promise<string> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
    let text = '';
    s.setTimeout(3000, () => s.destroy());
    s.on('data', (c: Buffer) => (text += c.toString()));
    s.on('error', () => undefined);
    s.on('close', () => resolve(text === '' ? 'closed' : text));
  });
}

interface Cond {
  type: string;
  status: string;
  reason: string;
  observedGeneration?: number;
}

function gateway(listeners: Record<string, unknown>[], className = 'headway'): KubeObject {
  return {
    metadata: { namespace: 'infra', name: 'edge' },
    spec: { gatewayClassName: className, listeners },
  };
}

function tcpRoute(
  name: string,
  refs: Record<string, unknown>[],
  ns = 'infra',
  extra: Record<string, unknown> = {},
): KubeObject {
  return {
    metadata: { namespace: ns, name },
    spec: {
      parentRefs: [{ name: 'edge', namespace: 'infra' }],
      rules: [{ backendRefs: refs }],
      ...extra,
    },
  };
}

function service(ns: string, name: string, ports: { name?: string; port: number }[]): KubeObject {
  return {
    metadata: { namespace: ns, name },
    spec: { ports: ports.map((p) => ({ protocol: 'TCP', ...p })) },
  };
}

/** Who answers each of `n` connections (`closed` for a refused one). */
async function tally(p: number, n: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const who = await identify(p, { timeoutMs: 3000 });
    out.set(who, (out.get(who) ?? 0) + 1);
  }
  return out;
}

async function answersOnly(p: number, want: readonly string[], n = 12): Promise<void> {
  await eventually(
    async () => {
      const seen = await tally(p, n);
      return [...seen.keys()].sort().join(',') === [...want].sort().join(',') ? true : undefined;
    },
    10_000,
    50,
  );
}

describe('--gateway: Gateway API TCPRoute/TLSRoute against a fake API server', () => {
  let api: FakeKubeApi;
  let pods: Backend[];
  let podPort: number;
  let kubeconfig: string;
  let proxy: HeadwayProcess | undefined;

  beforeAll(async () => {
    const first = await startWhoami(REDIS[0] as string);
    podPort = first.port;
    pods = [
      first,
      ...(await Promise.all(
        [REDIS[1], REDIS_B, PG].map((ip) => startWhoami(ip as string, podPort)),
      )),
    ];
  });

  afterAll(async () => {
    await Promise.all(pods.map((b) => b.close()));
  });

  beforeEach(async () => {
    api = await FakeKubeApi.start();
    kubeconfig = join(mkdtempSync(join(tmpdir(), 'headway-gw-')), 'config');
    api.writeKubeconfig(kubeconfig, { namespace: 'infra' });
  });

  afterEach(async () => {
    await proxy?.stop();
    proxy = undefined;
    await api.close();
  });

  /** The cluster: namespaces, Services and their EndpointSlices, the Gateway API at `routeVersion`. */
  function cluster(routeVersion: 'v1' | 'v1alpha2' = 'v1'): void {
    api.objects.register(...CORE_KINDS, ...gatewayApiKinds(routeVersion));
    api.objects.put('namespaces', { metadata: { name: 'infra' } });
    api.objects.put('namespaces', { metadata: { name: 'db', labels: { team: 'db' } } });
    api.objects.put('services', service('infra', 'redis', [{ name: 'redis', port: 6379 }]));
    api.objects.put('services', service('infra', 'redis-b', [{ port: 6379 }]));
    api.objects.put('services', service('db', 'pg', [{ name: 'pg', port: 5432 }]));
    api.upsertSlice({
      namespace: 'infra',
      name: 'redis-1',
      service: 'redis',
      ports: [port(podPort, 'redis')],
      endpoints: REDIS.map((ip, i) => endpoint(ip, { pod: `redis-${i}` })),
    });
    api.upsertSlice({
      namespace: 'infra',
      name: 'redis-b-1',
      service: 'redis-b',
      ports: [port(podPort)],
      endpoints: [endpoint(REDIS_B, { pod: 'redis-b-0' })],
    });
    api.upsertSlice({
      namespace: 'db',
      name: 'pg-1',
      service: 'pg',
      ports: [port(podPort, 'pg')],
      endpoints: [endpoint(PG, { pod: 'pg-0' })],
    });
  }

  function start(extra: string[] = []): HeadwayProcess {
    proxy = spawnHeadway([
      '--kubeconfig',
      kubeconfig,
      '--gateway',
      'infra/edge',
      '--listen',
      '127.0.0.1:0',
      '--admin',
      'off',
      '--strategy',
      'round-robin',
      '--log-level',
      'debug',
      ...extra,
    ]);
    return proxy;
  }

  function started(p: HeadwayProcess, listener: string): Promise<unknown> {
    // Discovery, the lists and the reload come before the first listener: a little over a plain start.
    return p.waitForLog((l) => l.msg === 'listener started' && l.listener === listener, 30_000);
  }

  /** The last status body written for an object. */
  function lastStatus(
    plural: string,
    ns: string,
    name: string,
  ): Record<string, unknown> | undefined {
    const all = api.objects.statusPatches.filter(
      (s) => s.plural === plural && s.namespace === ns && s.name === name,
    );
    return all[all.length - 1]?.body.status as Record<string, unknown> | undefined;
  }

  function routeConditions(name: string, ns = 'infra', plural = 'tcproutes'): Cond[] {
    const st = lastStatus(plural, ns, name) as
      { parents?: { controllerName: string; conditions: Cond[] }[] } | undefined;
    return st?.parents?.find((p) => p.controllerName === CONTROLLER)?.conditions ?? [];
  }

  const brief = (c: Cond[]): string[] => c.map((x) => `${x.type}=${x.status}/${x.reason}`);

  it("attaches, reweights and detaches a TCPRoute, refuses a missing backend's share, and writes status", async () => {
    cluster();
    const [p1] = [await freePortRange(1)];
    api.objects.put('gateways', gateway([{ name: 'tcp', port: p1, protocol: 'TCP' }]));
    const hw = start();
    await started(hw, `gateway-${p1}`);
    // No route yet: the listener is up and refuses every connection.
    expect(await identify(p1)).toBe('closed');
    await eventually(() => {
      const st = lastStatus('gateways', 'infra', 'edge') as
        | { conditions: Cond[]; listeners: { attachedRoutes: number; conditions: Cond[] }[] }
        | undefined;
      return st !== undefined &&
        brief(st.conditions).join() === 'Accepted=True/Accepted,Programmed=True/Programmed'
        ? st
        : undefined;
    });
    expect(
      api.objects.statusPatches.every((s) =>
        s.contentType.startsWith('application/merge-patch+json'),
      ),
    ).toBe(true);

    api.objects.put('tcproutes', tcpRoute('redis', [{ name: 'redis', port: 6379 }]));
    await answersOnly(p1, REDIS);
    await eventually(() =>
      brief(routeConditions('redis')).join() ===
      'Accepted=True/Accepted,ResolvedRefs=True/ResolvedRefs'
        ? true
        : undefined,
    );
    expect(routeConditions('redis')[0]?.observedGeneration).toBe(1);
    await eventually(() => {
      const st = lastStatus('gateways', 'infra', 'edge') as unknown as GatewayStatusBody;
      return st.listeners[0]?.attachedRoutes === 1 ? true : undefined;
    });
    expect(
      (lastStatus('gateways', 'infra', 'edge') as unknown as GatewayStatusBody).listeners[0]
        ?.supportedKinds,
    ).toEqual([{ group: 'gateway.networking.k8s.io', kind: 'TCPRoute' }]);

    // A session open across the changes below keeps its backend.
    const session = await connectTo(p1);
    const firstLine = await new Promise<string>((resolve) =>
      session.once('data', (c: Buffer) => resolve(c.toString())),
    );
    expect(REDIS.map((ip) => `${ip}\n`)).toContain(firstLine);

    // Weight change: everything to redis-b.
    api.objects.put(
      'tcproutes',
      tcpRoute('redis', [
        { name: 'redis', port: 6379, weight: 0 },
        { name: 'redis-b', port: 6379, weight: 1 },
      ]),
    );
    await answersOnly(p1, [REDIS_B]);
    await eventually(() =>
      routeConditions('redis')[0]?.observedGeneration === 2 ? true : undefined,
    );

    // Half the weight to a Service that does not exist: that half is refused, not moved.
    api.objects.put(
      'tcproutes',
      tcpRoute('redis', [
        { name: 'redis-b', port: 6379, weight: 1 },
        { name: 'gone', port: 6379, weight: 1 },
      ]),
    );
    await eventually(() =>
      routeConditions('redis').find((c) => c.type === 'ResolvedRefs')?.reason === 'BackendNotFound'
        ? true
        : undefined,
    );
    const split = await tally(p1, 60);
    expect([...split.keys()].sort()).toEqual([REDIS_B, 'closed'].sort());
    expect(split.get('closed')).toBeGreaterThan(12);
    expect(split.get(REDIS_B)).toBeGreaterThan(12);
    expect(routeConditions('redis').find((c) => c.type === 'Accepted')?.status).toBe('True');

    session.write('still here\n');
    const echoed = await new Promise<string>((resolve) =>
      session.once('data', (c: Buffer) => resolve(c.toString())),
    );
    expect(echoed).toBe('still here\n');
    session.destroy();

    // Detach: the listener stays, refusing; attachedRoutes back to 0.
    api.objects.delete('tcproutes', 'infra', 'redis');
    await answersOnly(p1, ['closed'], 4);
    await eventually(() =>
      (lastStatus('gateways', 'infra', 'edge') as unknown as GatewayStatusBody).listeners[0]
        ?.attachedRoutes === 0
        ? true
        : undefined,
    );

    // The watches' history is compacted and they get 410: a relist picks up what changed meanwhile.
    api.objects.compact();
    api.objects.expireWatchers();
    api.objects.put('tcproutes', tcpRoute('again', [{ name: 'redis', port: 6379 }]));
    await answersOnly(p1, REDIS);
  });

  it('adds and removes a Gateway listener while a session on it stays open', async () => {
    cluster();
    const base = await freePortRange(2);
    const [p1, p2] = [base, base + 1];
    api.objects.put('gateways', gateway([{ name: 'one', port: p1, protocol: 'TCP' }]));
    api.objects.put('tcproutes', tcpRoute('redis', [{ name: 'redis', port: 6379 }]));
    const hw = start();
    await started(hw, `gateway-${p1}`);
    await answersOnly(p1, REDIS);
    const session = await connectTo(p1);
    await new Promise((resolve) => session.once('data', resolve));

    api.objects.put(
      'gateways',
      gateway([
        { name: 'one', port: p1, protocol: 'TCP' },
        { name: 'two', port: p2, protocol: 'TCP' },
      ]),
    );
    await started(hw, `gateway-${p2}`);
    // The route names no sectionName: it attaches to both listeners.
    await answersOnly(p2, REDIS);

    api.objects.put('gateways', gateway([{ name: 'two', port: p2, protocol: 'TCP' }]));
    await eventually(async () =>
      (await identify(p1, { timeoutMs: 1000 })) === 'closed' ? true : undefined,
    );
    session.write('ping\n');
    const echoed = await new Promise<string>((resolve) =>
      session.once('data', (c: Buffer) => resolve(c.toString())),
    );
    expect(echoed).toBe('ping\n');
    session.destroy();
    await answersOnly(p2, REDIS);
    await eventually(() =>
      (lastStatus('gateways', 'infra', 'edge') as unknown as GatewayStatusBody).listeners
        .map((l) => l.name)
        .join() === 'two'
        ? true
        : undefined,
    );
  });

  it('routes TLSRoutes by server name (passthrough) and refuses a name no route takes', async () => {
    cluster();
    const p = await freePortRange(1);
    const tlsPods = [await tlsPod(TLS_A, podPort), await tlsPod(TLS_B, podPort)];
    try {
      for (const [name, ip] of [
        ['tls-a', TLS_A],
        ['tls-b', TLS_B],
      ] as const) {
        api.objects.put('services', service('infra', name, [{ name: 'tls', port: 443 }]));
        api.upsertSlice({
          namespace: 'infra',
          name: `${name}-1`,
          service: name,
          ports: [port(podPort, 'tls')],
          endpoints: [endpoint(ip, { pod: `${name}-0` })],
        });
      }
      api.objects.put(
        'gateways',
        gateway([
          {
            name: 'tls',
            port: p,
            protocol: 'TLS',
            hostname: '*.example.com',
            tls: { mode: 'Passthrough' },
          },
        ]),
      );
      const tlsRoute = (name: string, hostnames: string[], svc: string): KubeObject => ({
        metadata: { namespace: 'infra', name },
        spec: {
          parentRefs: [{ name: 'edge', namespace: 'infra', sectionName: 'tls' }],
          hostnames,
          rules: [{ backendRefs: [{ name: svc, port: 443 }] }],
        },
      });
      api.objects.put('tlsroutes', tlsRoute('a', ['a.example.com'], 'tls-a'));
      api.objects.put('tlsroutes', tlsRoute('b', ['b.example.com', 'b.other.org'], 'tls-b'));
      api.objects.put('tlsroutes', tlsRoute('c', ['c.other.org'], 'tls-b'));
      const hw = start();
      await started(hw, `gateway-${p}`);
      await eventually(async () =>
        (await tlsWho(p, 'a.example.com')) === TLS_A ? true : undefined,
      );
      expect(await tlsWho(p, 'b.example.com')).toBe(TLS_B);
      expect(await tlsWho(p, 'A.EXAMPLE.COM')).toBe(TLS_A);
      // Outside the listener's hostname, or in no route: refused.
      expect(await tlsWho(p, 'b.other.org')).toBe('closed');
      expect(await tlsWho(p, 'x.example.com')).toBe('closed');
      await eventually(() =>
        routeConditions('c', 'infra', 'tlsroutes').find((c) => c.type === 'Accepted')?.reason ===
        'NoMatchingListenerHostname'
          ? true
          : undefined,
      );
      expect(brief(routeConditions('a', 'infra', 'tlsroutes'))).toEqual([
        'Accepted=True/Accepted',
        'ResolvedRefs=True/ResolvedRefs',
      ]);
    } finally {
      await Promise.all(tlsPods.map((s) => new Promise((r) => s.close(r))));
    }
  });

  it('serves a cross-namespace backendRef only with a ReferenceGrant (TCPRoute v1alpha2 cluster)', async () => {
    cluster('v1alpha2');
    const p = await freePortRange(1);
    api.objects.put('gateways', gateway([{ name: 'tcp', port: p, protocol: 'TCP' }]));
    api.objects.put('tcproutes', tcpRoute('pg', [{ name: 'pg', namespace: 'db', port: 5432 }]));
    const hw = start();
    await started(hw, `gateway-${p}`);
    await eventually(() =>
      routeConditions('pg').find((c) => c.type === 'ResolvedRefs')?.reason === 'RefNotPermitted'
        ? true
        : undefined,
    );
    expect(await identify(p)).toBe('closed');
    expect(api.objects.statusPatches.find((s) => s.plural === 'tcproutes')?.version).toBe(
      'v1alpha2',
    );
    api.objects.put('referencegrants', {
      metadata: { namespace: 'db', name: 'from-infra' },
      spec: {
        from: [{ group: 'gateway.networking.k8s.io', kind: 'TCPRoute', namespace: 'infra' }],
        to: [{ group: '', kind: 'Service', name: 'pg' }],
      },
    });
    await answersOnly(p, [PG]);
    await eventually(() =>
      routeConditions('pg').find((c) => c.type === 'ResolvedRefs')?.status === 'True'
        ? true
        : undefined,
    );
    // A Gateway of another class is not ours: its listeners go away.
    api.objects.put('gateways', gateway([{ name: 'tcp', port: p, protocol: 'TCP' }], 'other'));
    await eventually(async () =>
      (await identify(p, { timeoutMs: 1000 })) === 'closed' ? true : undefined,
    );
  });
});

describe('--ingress-nginx-tcp-services against a fake API server', () => {
  it('serves the ConfigMap, skips a malformed entry, and applies a change live', async () => {
    const api = await FakeKubeApi.start();
    const kubeconfig = join(mkdtempSync(join(tmpdir(), 'headway-tcp-')), 'config');
    api.writeKubeconfig(kubeconfig, { namespace: 'ingress' });
    const first = await startWhoami(REDIS[0] as string);
    const pods = [first, await startWhoami(REDIS_B, first.port)];
    let hw: HeadwayProcess | undefined;
    try {
      api.objects.register(...CORE_KINDS);
      api.objects.put('services', service('infra', 'redis', [{ name: 'redis', port: 6379 }]));
      api.objects.put('services', service('infra', 'redis-b', [{ name: 'main', port: 7000 }]));
      api.upsertSlice({
        namespace: 'infra',
        name: 'redis-1',
        service: 'redis',
        ports: [port(first.port, 'redis')],
        endpoints: [endpoint(REDIS[0] as string, { pod: 'redis-0' })],
      });
      api.upsertSlice({
        namespace: 'infra',
        name: 'redis-b-1',
        service: 'redis-b',
        ports: [port(first.port, 'main')],
        endpoints: [endpoint(REDIS_B, { pod: 'redis-b-0' })],
      });
      const base = await freePortRange(2);
      const cm = (data: Record<string, string>): KubeObject => ({
        metadata: { namespace: 'ingress', name: 'tcp-services' },
        data,
      });
      api.objects.put(
        'configmaps',
        cm({
          [String(base)]: 'infra/redis:6379',
          [String(base + 1)]: 'infra/redis-b:main',
          '99999': 'nope',
        }),
      );
      // Another ConfigMap in the namespace is not read.
      api.objects.put('configmaps', {
        metadata: { namespace: 'ingress', name: 'other' },
        data: { '1': 'infra/redis:6379' },
      });
      hw = spawnHeadway([
        '--kubeconfig',
        kubeconfig,
        '--ingress-nginx-tcp-services',
        'ingress/tcp-services',
        '--listen',
        '127.0.0.1:0',
        '--admin',
        'off',
        '--health-check',
        'none',
        '--log-level',
        'debug',
      ]);
      const proc = hw;
      await proc.waitForLog(
        (l) => l.msg === 'listener started' && l.listener === `tcp-services-${base + 1}`,
        30_000,
      );
      await proc.waitForLog(
        (l) => l.msg === 'tcp-services: entry skipped' && String(l.entry).includes('99999'),
      );
      await answersOnly(base, [REDIS[0] as string], 4);
      await answersOnly(base + 1, [REDIS_B], 4);
      api.objects.put('configmaps', cm({ [String(base)]: 'infra/redis-b:7000', '1x': 'bad' }));
      await answersOnly(base, [REDIS_B], 4);
      await eventually(async () =>
        (await identify(base + 1, { timeoutMs: 1000 })) === 'closed' ? true : undefined,
      );
      expect(
        proc.logs
          .filter((l) => l.msg === 'tcp-services: entry skipped')
          .map((l) => String(l.entry)),
      ).toEqual(['"99999": "nope"', '"1x": "bad"']);
    } finally {
      await hw?.stop();
      await Promise.all(pods.map((b) => b.close()));
      await api.close();
    }
  });
});
