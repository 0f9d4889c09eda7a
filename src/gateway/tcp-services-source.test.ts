import { describe, expect, it } from 'vitest';
import type { ServiceJson } from './gateway-types.ts';
import { tcpServicesListeners } from './tcp-services-source.ts';

const services = new Map<string, ServiceJson>([
  ['prod/redis', { spec: { ports: [{ name: 'redis', port: 6379 }] } }],
  ['prod/pg', { spec: { ports: [{ port: 5432 }] } }],
]);

describe('tcpServicesListeners', () => {
  it('turns entries into listeners, resolving the Service port to the EndpointSlice port name', () => {
    const skipped: string[] = [];
    const out = tcpServicesListeners(
      {
        '6379': 'prod/redis:6379:PROXY',
        '7000': 'prod/redis:redis::PROXY',
        '5432': 'prod/pg:5432',
        '8000': 'prod/gone:80',
        abc: 'prod/redis:6379',
        '9000': 'prod/redis:6379:HAPROXY',
      },
      services,
      (key, _value, why) => skipped.push(`${key}: ${why}`),
    );
    expect(out).toEqual([
      { name: 'tcp-services-5432', port: 5432, backends: 'k8s-routes://prod/pg=1' },
      {
        name: 'tcp-services-6379',
        port: 6379,
        backends: 'k8s-routes://prod/redis:redis=1',
        acceptProxyProtocol: true,
      },
      {
        name: 'tcp-services-7000',
        port: 7000,
        backends: 'k8s-routes://prod/redis:redis=1',
        proxyProtocol: 'v1',
      },
      { name: 'tcp-services-8000', port: 8000, backends: 'k8s-routes://!BackendNotFound=1' },
    ]);
    expect(skipped).toEqual([
      '9000: "HAPROXY" is not PROXY or empty',
      'abc: key "abc" is not a port number',
    ]);
  });
});
