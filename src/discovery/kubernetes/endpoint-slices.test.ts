import { describe, expect, it } from 'vitest';
import { mergeSlices, type EndpointJson, type SliceJson } from './endpoint-slices.ts';

function ep(
  ip: string,
  pod: string,
  conditions: EndpointJson['conditions'],
  extra: Partial<EndpointJson> = {},
): EndpointJson {
  return {
    addresses: [ip],
    conditions,
    hostname: pod,
    targetRef: { kind: 'Pod', name: pod },
    nodeName: 'node-a',
    zone: 'zone-a',
    ...extra,
  };
}

const READY = { ready: true, serving: true, terminating: false };
const TERMINATING = { ready: false, serving: true, terminating: true };
const NOT_SERVING = { ready: false, serving: false, terminating: false };

function slice(
  name: string,
  endpoints: EndpointJson[] | null,
  ports: SliceJson['ports'],
  addressType = 'IPv4',
): SliceJson {
  return {
    metadata: { name, namespace: 'prod', resourceVersion: '1' },
    addressType,
    endpoints,
    ports,
  };
}

const REDIS = [{ name: 'redis', port: 6379, protocol: 'TCP' }];

function ok(result: ReturnType<typeof mergeSlices>) {
  if (result.kind !== 'ok') throw new Error(`expected ok, got ${result.kind}`);
  return result.endpoints;
}

describe('mergeSlices', () => {
  it('maps conditions to states (KEP-1669) and carries pod identity', () => {
    const eps = ok(
      mergeSlices(
        [
          slice(
            'web-1',
            [
              ep('10.0.0.1', 'web-0', READY),
              ep('10.0.0.2', 'web-1', TERMINATING),
              ep('10.0.0.3', 'web-2', NOT_SERVING),
            ],
            REDIS,
          ),
        ],
        'redis',
      ),
    );
    expect(eps.map((e) => [e.id, e.state])).toEqual([
      ['web-0', 'ready'],
      ['web-1', 'draining'],
      ['web-2', 'not-serving'],
    ]);
    expect(eps[0]).toMatchObject({
      address: '10.0.0.1',
      port: 6379,
      pod: 'web-0',
      hostname: 'web-0',
      node: 'node-a',
      zone: 'zone-a',
    });
  });

  it('counts missing conditions as ready and serving, not terminating', () => {
    const eps = ok(
      mergeSlices([slice('s', [{ addresses: ['10.0.0.9'], conditions: null }], REDIS)], undefined),
    );
    expect(eps).toEqual([
      { id: '10.0.0.9:6379', address: '10.0.0.9', port: 6379, weight: 1, state: 'ready' },
    ]);
  });

  it('stays right under publishNotReadyAddresses (ready always true): serving decides', () => {
    const eps = ok(
      mergeSlices(
        [
          slice(
            's',
            [
              ep('10.0.0.1', 'a', { ready: true, serving: false, terminating: false }),
              ep('10.0.0.2', 'b', { ready: true, serving: true, terminating: true }),
            ],
            REDIS,
          ),
        ],
        'redis',
      ),
    );
    expect(eps.map((e) => e.state)).toEqual(['not-serving', 'draining']);
  });

  it('treats null endpoint and port lists as empty', () => {
    expect(ok(mergeSlices([slice('s', null, null)], undefined))).toEqual([]);
  });

  it('merges slices of both families and dedupes by address preferring the non-terminating entry', () => {
    const eps = ok(
      mergeSlices(
        [
          slice('v4-a', [ep('10.0.0.1', 'web-0', TERMINATING)], REDIS),
          slice('v4-b', [ep('10.0.0.1', 'web-0', READY), ep('10.0.0.2', 'web-1', READY)], REDIS),
          slice('v6', [ep('fd00::3', 'web-2', READY)], REDIS, 'IPv6'),
          slice('fqdn', [{ addresses: ['example.com'], conditions: READY }], REDIS, 'FQDN'),
        ],
        'redis',
      ),
    );
    expect(eps.map((e) => `${e.id}@${e.address}:${e.state}`)).toEqual([
      'web-0@10.0.0.1:ready',
      'web-1@10.0.0.2:ready',
      'web-2@fd00::3:ready',
    ]);
  });

  it('pairs each endpoint with the port of its own slice (named ports may differ per slice)', () => {
    const eps = ok(
      mergeSlices(
        [
          slice(
            'a',
            [ep('10.0.0.1', 'old-0', READY)],
            [{ name: 'http', port: 8080, protocol: 'TCP' }],
          ),
          slice(
            'b',
            [ep('10.0.0.2', 'new-0', READY)],
            [{ name: 'http', port: 9090, protocol: 'TCP' }],
          ),
        ],
        'http',
      ),
    );
    expect(eps.map((e) => `${e.id}:${e.port}`)).toEqual(['new-0:9090', 'old-0:8080']);
  });

  it('ignores UDP ports and selects by number', () => {
    const ports = [
      { name: 'dns', port: 53, protocol: 'UDP' },
      { name: 'dns-tcp', port: 53, protocol: 'TCP' },
    ];
    expect(
      ok(mergeSlices([slice('s', [ep('10.0.0.1', 'p', READY)], ports)], undefined))[0]?.port,
    ).toBe(53);
    expect(ok(mergeSlices([slice('s', [ep('10.0.0.1', 'p', READY)], ports)], 53))[0]?.port).toBe(
      53,
    );
    expect(mergeSlices([slice('s', [ep('10.0.0.1', 'p', READY)], ports)], 'dns')).toEqual({
      kind: 'no-such-port',
      choices: ['dns-tcp'],
    });
  });

  it('asks for a port when several TCP ports exist and none is named', () => {
    const ports = [
      { name: 'redis', port: 6379, protocol: 'TCP' },
      { name: 'metrics', port: 9121, protocol: 'TCP' },
    ];
    expect(mergeSlices([slice('s', [ep('10.0.0.1', 'p', READY)], ports)], undefined)).toEqual({
      kind: 'ambiguous-port',
      choices: ['metrics', 'redis'],
    });
  });

  it('keeps zone hints', () => {
    const eps = ok(
      mergeSlices(
        [
          slice(
            's',
            [ep('10.0.0.1', 'p', READY, { hints: { forZones: [{ name: 'zone-b' }] } })],
            REDIS,
          ),
        ],
        'redis',
      ),
    );
    expect(eps[0]?.zoneHints).toEqual(['zone-b']);
  });
});
