import { describe, expect, it } from 'vitest';
import { parseBackendsUri } from '../config/backends-uri.ts';
import type { GatewayJson, RouteJson, ServiceJson } from './gateway-types.ts';
import { intersectHostnames, translateGateway, type GatewayInputs } from './translate.ts';

const gateway = (
  listeners: NonNullable<GatewayJson['spec']>['listeners'],
  className = 'headway',
): GatewayJson => ({
  metadata: { namespace: 'infra', name: 'edge', generation: 3 },
  spec: { gatewayClassName: className, listeners },
});

const service = (
  ns: string,
  name: string,
  ports: { name?: string; port: number }[],
): [string, ServiceJson] => [
  `${ns}/${name}`,
  { metadata: { namespace: ns, name }, spec: { ports } },
];

const route = (
  ns: string,
  name: string,
  backendRefs: {
    name: string;
    namespace?: string;
    port?: number;
    weight?: number;
    kind?: string;
  }[],
  extra: { sectionName?: string; hostnames?: string[]; created?: string } = {},
): RouteJson => ({
  metadata: {
    namespace: ns,
    name,
    generation: 2,
    creationTimestamp: extra.created ?? '2026-01-01T00:00:00Z',
  },
  spec: {
    parentRefs: [
      {
        name: 'edge',
        namespace: 'infra',
        ...(extra.sectionName ? { sectionName: extra.sectionName } : {}),
      },
    ],
    ...(extra.hostnames ? { hostnames: extra.hostnames } : {}),
    rules: [{ backendRefs }],
  },
});

function inputs(over: Partial<GatewayInputs>): GatewayInputs {
  return {
    className: 'headway',
    gatewayNamespace: 'infra',
    gatewayName: 'edge',
    gateway: undefined,
    tcpRoutes: [],
    tlsRoutes: [],
    services: new Map([
      service('infra', 'redis', [{ name: 'redis', port: 6379 }]),
      service('infra', 'redis-b', [{ port: 6379 }]),
      service('db', 'pg', [{ name: 'pg', port: 5432 }]),
    ]),
    referenceGrants: [],
    namespaceLabels: new Map<string, Record<string, string>>([
      ['infra', {}],
      ['db', { team: 'db' }],
    ]),
    ...over,
  };
}

const condition = (
  list: readonly { type: string; status: string; reason: string }[],
  type: string,
) => list.find((c) => c.type === type);

describe('translateGateway', () => {
  it('ignores a Gateway of another class (no listeners, no status)', () => {
    const out = translateGateway(
      inputs({ gateway: gateway([{ name: 'tcp', port: 6379, protocol: 'TCP' }], 'other') }),
    );
    expect(out).toEqual({ listeners: [], gateway: undefined, routes: [] });
  });

  it('serves a TCP listener with a weighted TCPRoute and reports it attached', () => {
    const out = translateGateway(
      inputs({
        gateway: gateway([{ name: 'tcp', port: 6379, protocol: 'TCP' }]),
        tcpRoutes: [
          route('infra', 'r', [
            { name: 'redis', port: 6379, weight: 3 },
            { name: 'redis-b', port: 6379, weight: 1 },
          ]),
        ],
      }),
    );
    expect(out.listeners).toEqual([
      {
        name: 'gateway-6379',
        port: 6379,
        backends: 'k8s-routes://infra/redis:redis=3,infra/redis-b=1',
        gatewayListeners: ['tcp'],
      },
    ]);
    expect(out.gateway?.listeners[0]?.attachedRoutes).toBe(1);
    expect(out.routes[0]?.parents[0]?.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Accepted', 'True', 'Accepted'],
      ['ResolvedRefs', 'True', 'ResolvedRefs'],
    ]);
    // What the translation writes parses as a listener's --backends.
    expect(parseBackendsUri(out.listeners[0]?.backends ?? '').scheme).toBe('k8s-routes');
  });

  it('turns a missing Service into a refused share and ResolvedRefs False BackendNotFound', () => {
    const out = translateGateway(
      inputs({
        gateway: gateway([{ name: 'tcp', port: 6379, protocol: 'TCP' }]),
        tcpRoutes: [
          route('infra', 'r', [
            { name: 'redis', port: 6379, weight: 1 },
            { name: 'gone', port: 6379, weight: 1 },
          ]),
        ],
      }),
    );
    expect(out.listeners[0]?.backends).toBe('k8s-routes://infra/redis:redis=1,!BackendNotFound=1');
    expect(condition(out.routes[0]?.parents[0]?.conditions ?? [], 'ResolvedRefs')).toMatchObject({
      status: 'False',
      reason: 'BackendNotFound',
    });
    // Still attached: a route with a bad ref is accepted.
    expect(condition(out.routes[0]?.parents[0]?.conditions ?? [], 'Accepted')?.status).toBe('True');
  });

  it('needs a ReferenceGrant for a backendRef in another namespace', () => {
    const base = {
      gateway: gateway([{ name: 'tcp', port: 5432, protocol: 'TCP' }]),
      tcpRoutes: [route('infra', 'r', [{ name: 'pg', namespace: 'db', port: 5432 }])],
    };
    const refused = translateGateway(inputs(base));
    expect(refused.listeners[0]?.backends).toBe('k8s-routes://!RefNotPermitted=1');
    expect(condition(refused.routes[0]?.parents[0]?.conditions ?? [], 'ResolvedRefs')?.reason).toBe(
      'RefNotPermitted',
    );
    const grant = {
      metadata: { namespace: 'db', name: 'g' },
      spec: {
        from: [{ group: 'gateway.networking.k8s.io', kind: 'TCPRoute', namespace: 'infra' }],
        to: [{ group: '', kind: 'Service' }],
      },
    };
    const allowed = translateGateway(inputs({ ...base, referenceGrants: [grant] }));
    expect(allowed.listeners[0]?.backends).toBe('k8s-routes://db/pg:pg=1');
    // A grant for TLSRoutes only does not allow a TCPRoute.
    const wrongKind = {
      ...grant,
      spec: { ...grant.spec, from: [{ ...grant.spec.from[0], kind: 'TLSRoute' }] },
    };
    expect(
      translateGateway(inputs({ ...base, referenceGrants: [wrongKind as typeof grant] }))
        .listeners[0]?.backends,
    ).toBe('k8s-routes://!RefNotPermitted=1');
  });

  it('refuses routes from namespaces the listener does not allow, and takes Selector namespaces', () => {
    const r = route('db', 'r', [{ name: 'pg', port: 5432 }]);
    const same = translateGateway(
      inputs({ gateway: gateway([{ name: 'tcp', port: 5432, protocol: 'TCP' }]), tcpRoutes: [r] }),
    );
    expect(condition(same.routes[0]?.parents[0]?.conditions ?? [], 'Accepted')).toMatchObject({
      status: 'False',
      reason: 'NotAllowedByListeners',
    });
    expect(same.gateway?.listeners[0]?.attachedRoutes).toBe(0);
    expect(same.listeners[0]?.backends).toBe('k8s-routes://!NoRoutes=1');
    const selector = translateGateway(
      inputs({
        gateway: gateway([
          {
            name: 'tcp',
            port: 5432,
            protocol: 'TCP',
            allowedRoutes: {
              namespaces: { from: 'Selector', selector: { matchLabels: { team: 'db' } } },
            },
          },
        ]),
        tcpRoutes: [r],
      }),
    );
    expect(selector.listeners[0]?.backends).toBe('k8s-routes://db/pg:pg=1');
  });

  it('routes TLSRoutes by hostname within the listener hostname', () => {
    const out = translateGateway(
      inputs({
        gateway: gateway([
          {
            name: 'tls',
            port: 443,
            protocol: 'TLS',
            hostname: '*.example.com',
            tls: { mode: 'Passthrough' },
          },
        ]),
        tlsRoutes: [
          route('infra', 'a', [{ name: 'redis', port: 6379 }], { hostnames: ['a.example.com'] }),
          route('infra', 'b', [{ name: 'redis-b', port: 6379 }], {
            hostnames: ['b.example.com', 'b.other.org'],
          }),
          route('infra', 'c', [{ name: 'redis-b', port: 6379 }], { hostnames: ['c.other.org'] }),
        ],
      }),
    );
    expect(out.listeners[0]?.backends).toBe(
      'k8s-routes://a.example.com@infra/redis:redis=1;b.example.com@infra/redis-b=1',
    );
    const c = out.routes.find((r) => r.name === 'c');
    expect(condition(c?.parents[0]?.conditions ?? [], 'Accepted')?.reason).toBe(
      'NoMatchingListenerHostname',
    );
    expect(out.gateway?.listeners[0]?.attachedRoutes).toBe(2);
  });

  it('keeps the older of two TCPRoutes on one TCP listener', () => {
    const out = translateGateway(
      inputs({
        gateway: gateway([{ name: 'tcp', port: 6379, protocol: 'TCP' }]),
        tcpRoutes: [
          route('infra', 'new', [{ name: 'redis-b', port: 6379 }], {
            created: '2026-02-01T00:00:00Z',
          }),
          route('infra', 'old', [{ name: 'redis', port: 6379 }], {
            created: '2026-01-01T00:00:00Z',
          }),
        ],
      }),
    );
    expect(out.listeners[0]?.backends).toBe('k8s-routes://infra/redis:redis=1');
    expect(
      condition(out.routes.find((r) => r.name === 'new')?.parents[0]?.conditions ?? [], 'Accepted')
        ?.status,
    ).toBe('False');
  });

  it('does not serve unsupported protocols, TLS Terminate, or a second TCP listener on a port', () => {
    const out = translateGateway(
      inputs({
        gateway: gateway([
          { name: 'http', port: 80, protocol: 'HTTP' },
          { name: 'tls', port: 443, protocol: 'TLS' },
          { name: 'a', port: 6379, protocol: 'TCP' },
          { name: 'b', port: 6379, protocol: 'TCP' },
        ]),
      }),
    );
    expect(out.listeners.map((l) => l.gatewayListeners)).toEqual([['a']]);
    const st = out.gateway?.listeners ?? [];
    expect(condition(st[0]?.conditions ?? [], 'Accepted')?.reason).toBe('UnsupportedProtocol');
    expect(condition(st[1]?.conditions ?? [], 'Accepted')?.reason).toBe('UnsupportedProtocol');
    expect(condition(st[3]?.conditions ?? [], 'Conflicted')).toMatchObject({
      status: 'True',
      reason: 'ProtocolConflict',
    });
  });

  it('picks listeners by sectionName and refuses a sectionName that names none', () => {
    const out = translateGateway(
      inputs({
        gateway: gateway([
          { name: 'one', port: 6379, protocol: 'TCP' },
          { name: 'two', port: 6380, protocol: 'TCP' },
        ]),
        tcpRoutes: [
          route('infra', 'r', [{ name: 'redis', port: 6379 }], { sectionName: 'two' }),
          route('infra', 'x', [{ name: 'redis', port: 6379 }], { sectionName: 'nope' }),
        ],
      }),
    );
    expect(out.listeners.map((l) => l.backends)).toEqual([
      'k8s-routes://!NoRoutes=1',
      'k8s-routes://infra/redis:redis=1',
    ]);
    expect(
      condition(out.routes.find((r) => r.name === 'x')?.parents[0]?.conditions ?? [], 'Accepted')
        ?.reason,
    ).toBe('NoMatchingParent');
  });
});

describe('intersectHostnames', () => {
  it('narrows route hostnames to the listener hostname', () => {
    expect(intersectHostnames(undefined, ['a.b'])).toEqual(['a.b']);
    expect(intersectHostnames('*.example.com', [])).toEqual(['*.example.com']);
    expect(intersectHostnames('a.example.com', ['*.example.com'])).toEqual(['a.example.com']);
    expect(intersectHostnames('*.example.com', ['x.y.example.com', 'other.org'])).toEqual([
      'x.y.example.com',
    ]);
    expect(intersectHostnames('a.example.com', ['b.example.com'])).toBeUndefined();
  });
});
