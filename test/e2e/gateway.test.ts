import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeKubeApi, endpoint, port } from '../helpers/fake-kube-api.ts';
import { CORE_KINDS, gatewayApiKinds, type KubeObject } from '../helpers/fake-kube-objects.ts';
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
/** Pods of infra/redis, and the one pod of infra/redis-b and db/pg. */
const REDIS = ['127.0.0.41', '127.0.0.42'];
const REDIS_B = '127.0.0.43';
const PG = '127.0.0.46';

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
      '--health-check',
      'none',
      '--strategy',
      'round-robin',
      '--log-level',
      'debug',
      ...extra,
    ]);
    return proxy;
  }

  function started(p: HeadwayProcess, listener: string): Promise<unknown> {
    return p.waitForLog((l) => l.msg === 'listener started' && l.listener === listener);
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
    const gw = lastStatus('gateways', 'infra', 'edge') as {
      listeners: { name: string; attachedRoutes: number; supportedKinds: unknown[] }[];
    };
    await eventually(() => {
      const st = lastStatus('gateways', 'infra', 'edge') as typeof gw;
      return st.listeners[0]?.attachedRoutes === 1 ? true : undefined;
    });
    expect(
      (lastStatus('gateways', 'infra', 'edge') as typeof gw).listeners[0]?.supportedKinds,
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
      (lastStatus('gateways', 'infra', 'edge') as typeof gw).listeners[0]?.attachedRoutes === 0
        ? true
        : undefined,
    );

    // The watches' history is compacted and they get 410: a relist picks up what changed meanwhile.
    api.objects.compact();
    api.objects.expireWatchers();
    api.objects.put('tcproutes', tcpRoute('again', [{ name: 'redis', port: 6379 }]));
    await answersOnly(p1, REDIS);
  });
});
