import { describe, expect, it } from 'vitest';
import {
  encodeProxyHeader,
  encodeV1,
  encodeV1Unknown,
  encodeV2,
  encodeV2Local,
  proxyAddressInfo,
} from './encode.ts';
import type { ProxyAddressInfo } from './header.ts';

const SIGNATURE = '0d0a0d0a000d0a515549540a';

function info(
  sourceAddress: string,
  destAddress: string,
  family: 'tcp4' | 'tcp6' = 'tcp4',
): ProxyAddressInfo {
  return { family, sourceAddress, sourcePort: 1111, destAddress, destPort: 2222 };
}

describe('encodeV1', () => {
  it.each([
    [info('1.2.3.4', '5.6.7.8'), 'PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\r\n'],
    [info('::ffff:1.2.3.4', '::ffff:5.6.7.8', 'tcp6'), 'PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\r\n'],
    [info('1.2.3.4', '::ffff:5.6.7.8', 'tcp4'), 'PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\r\n'],
    [info('2001:DB8:0::1', '::1', 'tcp6'), 'PROXY TCP6 2001:db8::1 ::1 1111 2222\r\n'],
    [info('1.2.3.4', '2001:db8::1', 'tcp6'), 'PROXY TCP6 ::ffff:1.2.3.4 2001:db8::1 1111 2222\r\n'],
    [info('fe80::1%eth0', 'fe80::2', 'tcp6'), 'PROXY TCP6 fe80::1 fe80::2 1111 2222\r\n'],
  ])('%j → %j', (input, line) => {
    expect(encodeV1(input).toString('latin1')).toBe(line);
  });

  it('fits the longest line in the spec bound', () => {
    const longest = encodeV1({
      family: 'tcp6',
      sourceAddress: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
      sourcePort: 65535,
      destAddress: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
      destPort: 65535,
    });
    expect(longest.length).toBe(104);
  });

  it('sends UNKNOWN when the addresses are unknown', () => {
    expect(encodeV1Unknown().toString('latin1')).toBe('PROXY UNKNOWN\r\n');
    expect(encodeProxyHeader(1, undefined).toString('latin1')).toBe('PROXY UNKNOWN\r\n');
  });
});

describe('encodeV2', () => {
  it('writes TCP over IPv4', () => {
    expect(encodeV2(info('172.19.0.1', '172.19.0.3')).toString('hex')).toBe(
      `${SIGNATURE}2111000cac130001ac130003045708ae`,
    );
  });

  it('writes IPv4-mapped peers as TCP over IPv4', () => {
    const mapped = encodeV2(info('::ffff:172.19.0.1', '::ffff:172.19.0.3', 'tcp6'));
    expect(mapped).toEqual(encodeV2(info('172.19.0.1', '172.19.0.3')));
  });

  it('writes TCP over IPv6', () => {
    expect(encodeV2(info('2001:db8::1', '::1', 'tcp6')).toString('hex')).toBe(
      `${SIGNATURE}21210024` +
        '20010db8000000000000000000000001' +
        '00000000000000000000000000000001' +
        '045708ae',
    );
  });

  it('writes LOCAL with family UNSPEC and no addresses', () => {
    expect(encodeV2Local().toString('hex')).toBe(`${SIGNATURE}20000000`);
    expect(encodeProxyHeader(2, undefined)).toEqual(encodeV2Local());
  });

  it('encodeProxyHeader picks the version', () => {
    const i = info('1.2.3.4', '5.6.7.8');
    expect(encodeProxyHeader(1, i)).toEqual(encodeV1(i));
    expect(encodeProxyHeader(2, i)).toEqual(encodeV2(i));
  });
});

describe('encoder input checks', () => {
  it.each([
    [info('nope', '1.2.3.4'), /source address "nope" is not an IP address/],
    [info('1.2.3.4', ''), /destination address "" is not an IP address/],
    [info('01.2.3.4', '1.2.3.4'), /is not an IP address/],
    [info('2001:db8::1', '1.2.3.4', 'tcp4'), /family tcp4 with IPv6 addresses/],
    [{ ...info('1.2.3.4', '1.2.3.4'), sourcePort: 65536 }, /source port 65536 is not 0-65535/],
    [{ ...info('1.2.3.4', '1.2.3.4'), destPort: -1 }, /destination port -1/],
    [{ ...info('1.2.3.4', '1.2.3.4'), destPort: 1.5 }, /destination port 1.5/],
  ])('%j throws %s', (input, message) => {
    expect(() => encodeV1(input)).toThrow(message);
    expect(() => encodeV2(input)).toThrow(message);
  });
});

describe('proxyAddressInfo', () => {
  it('takes the client as source and the listener address as destination', () => {
    expect(
      proxyAddressInfo({
        remoteAddress: '::ffff:10.0.0.7',
        remotePort: 40000,
        localAddress: '::ffff:10.0.0.1',
        localPort: 6379,
      }),
    ).toEqual({
      family: 'tcp4',
      sourceAddress: '::ffff:10.0.0.7',
      sourcePort: 40000,
      destAddress: '::ffff:10.0.0.1',
      destPort: 6379,
    });
    expect(
      proxyAddressInfo({ remoteAddress: '::1', remotePort: 1, localAddress: '::1', localPort: 2 })
        ?.family,
    ).toBe('tcp6');
  });

  it('is undefined once Node has forgotten the addresses', () => {
    expect(proxyAddressInfo({ remotePort: 1, localAddress: '::1', localPort: 2 })).toBeUndefined();
    expect(proxyAddressInfo({})).toBeUndefined();
  });
});
