import { describe, expect, it } from 'vitest';
import { resolveProxyConfig } from './resolve.ts';
import { checkShape } from './config-file.ts';
import { listenOverlaps, listenSpecs } from './listen-addresses.ts';

function listeners(...groups: { listen: string[]; v6only?: string }[]) {
  const file = checkShape('t.yaml', {
    admin: 'off',
    listeners: groups.map((g, i) => ({
      name: `l${i}`,
      listen: g.listen,
      backends: 'static://127.0.0.1:1',
      ...(g.v6only === undefined ? {} : { v6only: g.v6only }),
    })),
  });
  // Resolve without the overlap check's throw: collect every overlap instead.
  const parsed = file.listeners.map((_, i) => {
    const one = checkShape('t.yaml', { admin: 'off', listeners: [file.listeners[i]] });
    return resolveProxyConfig({ argv: {}, env: {}, file: one }).listeners[0];
  });
  return parsed.flatMap((l) => (l === undefined ? [] : [l]));
}

const overlapsOf = (...groups: { listen: string[]; v6only?: string }[]): string[] =>
  listenOverlaps(listeners(...groups), null, (i) => `listeners[${i}].listen`).map((e) => e.message);

describe('listen address overlaps', () => {
  it('finds the same address, a wildcard covering an address, and dual-stack covering IPv4', () => {
    expect(overlapsOf({ listen: ['0.0.0.0:7000'] }, { listen: ['127.0.0.1:7000'] })).toEqual([
      'listeners[1].listen: 127.0.0.1:7000 of listener "l1" overlaps 0.0.0.0:7000 of listener "l0"',
    ]);
    expect(() => listeners({ listen: ['127.0.0.1:7000', '127.0.0.1:7000'] })).toThrow(
      /127.0.0.1:7000 of listener "l0" overlaps 127.0.0.1:7000 of listener "l0"/,
    );
    expect(overlapsOf({ listen: ['[::]:7000'] }, { listen: ['[::1]:7000'] })).toHaveLength(1);
    expect(
      overlapsOf({ listen: ['[::ffff:127.0.0.1]:7000'] }, { listen: ['127.0.0.1:7000'] }),
    ).toHaveLength(1);
    // v6only off: [::] takes IPv4 too.
    expect(
      overlapsOf({ listen: ['0.0.0.0:7000'] }, { listen: ['[::]:7000'], v6only: 'off' })[0],
    ).toMatch(/\[::\]:7000 \(dual-stack\) of listener "l1" overlaps 0.0.0.0:7000 of listener "l0"/);
  });

  it('lets 0.0.0.0:P and [::]:P share a port (auto v6only), and different ports or port 0 be', () => {
    expect(overlapsOf({ listen: ['0.0.0.0:7000', '[::]:7000'] })).toEqual([]);
    expect(overlapsOf({ listen: ['0.0.0.0:7000'] }, { listen: ['[::]:7000'] })).toEqual([]);
    expect(overlapsOf({ listen: ['127.0.0.1:0'] }, { listen: ['127.0.0.1:0'] })).toEqual([]);
    expect(overlapsOf({ listen: ['127.0.0.1:7000'] }, { listen: ['127.0.0.2:7000'] })).toEqual([]);
  });

  it('binds [::]:P IPv6-only only next to an IPv4 address on P, or when asked', () => {
    const [alone] = listeners({ listen: ['[::]:7000'] });
    if (alone === undefined) throw new Error('no listener');
    expect(listenSpecs(alone)).toEqual([
      { host: '::', port: 7000, v6only: false, withoutIPv6: 'ipv4' },
    ]);
    const [both] = listeners({ listen: ['0.0.0.0:7000', '[::]:7000'] });
    if (both === undefined) throw new Error('no listener');
    expect(listenSpecs(both)[1]).toEqual({
      host: '::',
      port: 7000,
      v6only: true,
      withoutIPv6: 'skip',
    });
    const [on] = listeners({ listen: ['[::]:7000'], v6only: 'on' });
    if (on === undefined) throw new Error('no listener');
    expect(listenSpecs(on)[0]).toMatchObject({ v6only: true, withoutIPv6: 'none' });
  });
});
