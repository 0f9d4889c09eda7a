import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../../core/endpoint.ts';
import { parseBackendsUri } from '../../config/backends-uri.ts';
import { formatK8sRoutes, type K8sRoutesBackendsSpec } from '../../config/k8s-routes-uri.ts';
import { mergeRoutes } from './k8s-routes-source.ts';

const ep = (id: string, state: Endpoint['state'] = 'ready'): Endpoint => ({
  id,
  address: `10.0.0.${id.length}`,
  port: 6379,
  weight: 1,
  state,
});

function routes(uri: string): K8sRoutesBackendsSpec['routes'] {
  const spec = parseBackendsUri(uri);
  if (spec.scheme !== 'k8s-routes') throw new Error('not k8s-routes');
  return spec.routes;
}

describe('k8s-routes:// URIs', () => {
  it('parse and format back to the same text', () => {
    const uri =
      'k8s-routes://a.example.com|*.b.example.com@prod/pg:5432=1,!BackendNotFound=2;prod/redis=3';
    expect(formatK8sRoutes(routes(uri))).toBe(uri);
    expect(routes(uri)[0]).toEqual({
      serverNames: ['a.example.com', '*.b.example.com'],
      refs: [
        { kind: 'service', namespace: 'prod', service: 'pg', port: 5432, weight: 1 },
        { kind: 'reject', reason: 'BackendNotFound', weight: 2 },
      ],
    });
  });

  it.each([
    ['k8s-routes://', 'at least one route'],
    ['k8s-routes://prod/pg', 'has no =WEIGHT'],
    ['k8s-routes://prod/pg=2000000', 'whole number from 0 to 1000000'],
    ['k8s-routes://a.b@prod/pg=1;a.b@prod/x=1', 'is in two routes'],
    ['k8s-routes://prod/pg=1;prod/x=1', 'only one route may take every server name'],
    ['k8s-routes://Bad_Name@prod/pg=1', 'is not a server name'],
    ['k8s-routes://pg=1', 'is not NAMESPACE/SERVICE'],
  ])('refuses %s', (uri, message) => {
    expect(() => parseBackendsUri(uri)).toThrow(message);
  });
});

describe('mergeRoutes', () => {
  it('spreads each Service weight over its endpoints and refuses the share of empty or invalid refs', () => {
    const r = routes('k8s-routes://prod/a=3,prod/b=1,prod/empty=2,!RefNotPermitted=2');
    const snap = mergeRoutes(
      r,
      new Map([
        ['prod/a', [ep('a-0'), ep('a-1'), ep('a-2')]],
        ['prod/b', [ep('b-0'), ep('b-1', 'not-serving')]],
        ['prod/empty', [ep('e-0', 'not-serving')]],
      ]),
      5,
    );
    // a: 3 over 3 endpoints = 1 each; b: 1 over its one serving endpoint = 1.
    expect(snap.endpoints.map((e) => `${e.id}=${e.weight}@${String(e.group)}`)).toEqual([
      'prod/a/a-0=1000@0',
      'prod/a/a-1=1000@0',
      'prod/a/a-2=1000@0',
      'prod/b/b-0=1000@0',
    ]);
    expect(snap.groups).toEqual([{ serverNames: [], rejectShare: 0.5 }]);
  });

  it('prefixes ids with the route when several routes name one Service, and refuses all of a route without weight', () => {
    const r = routes('k8s-routes://a.x@prod/a=1;b.x@prod/a=1;c.x@prod/a=0');
    const snap = mergeRoutes(r, new Map([['prod/a', [ep('a-0')]]]), 5);
    expect(snap.endpoints.map((e) => e.id)).toEqual(['0:prod/a/a-0', '1:prod/a/a-0']);
    expect(snap.groups?.map((g) => g.rejectShare)).toEqual([0, 0, 1]);
  });

  it('keeps weight ratios between Services of different sizes', () => {
    const r = routes('k8s-routes://prod/a=1,prod/b=1');
    const snap = mergeRoutes(
      r,
      new Map([
        ['prod/a', [ep('a-0')]],
        ['prod/b', [ep('b-0'), ep('b-1'), ep('b-2'), ep('b-3')]],
      ]),
      5,
    );
    const total = (prefix: string): number =>
      snap.endpoints.filter((e) => e.id.startsWith(prefix)).reduce((n, e) => n + e.weight, 0);
    expect(total('prod/a/')).toBe(total('prod/b/'));
  });
});
