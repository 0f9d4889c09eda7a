import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatHostPort, parseHostPort, unmapIPv4 } from './address.ts';

const SEED = 20_240_602;

describe('parseHostPort', () => {
  it.each([
    ['127.0.0.1:8080', '127.0.0.1', 8080],
    ['0.0.0.0:0', '0.0.0.0', 0],
    ['10.1.2.3:65535', '10.1.2.3', 65535],
    ['[::1]:8080', '::1', 8080],
    ['[::]:9901', '::', 9901],
    ['[2001:db8::5]:443', '2001:db8::5', 443],
    ['[::ffff:10.0.0.1]:80', '::ffff:10.0.0.1', 80],
    [':8080', '::', 8080],
    ['localhost:6379', 'localhost', 6379],
    [
      'redis-0.redis.default.svc.cluster.local:6379',
      'redis-0.redis.default.svc.cluster.local',
      6379,
    ],
    ['my_host:1', 'my_host', 1],
    [' 127.0.0.1:80 ', '127.0.0.1', 80],
  ])('%j → %s port %d', (text, host, port) => {
    expect(parseHostPort(text)).toEqual({ host, port });
  });

  it('refuses a missing port', () => {
    expect(parseHostPort('nope')).toBe('"nope" has no port (expected HOST:PORT)');
    expect(parseHostPort('127.0.0.1')).toMatch(/has no port/);
    expect(parseHostPort('127.0.0.1:')).toBe('"" is not a port number');
    expect(parseHostPort('[::1]')).toBe('"[::1]" is not [IPv6]:PORT');
    expect(parseHostPort('[::1]8080')).toMatch(/is not \[IPv6\]:PORT/);
  });

  it('refuses ports out of range or not numeric', () => {
    expect(parseHostPort('127.0.0.1:70000')).toBe('port 70000 is out of range (0-65535)');
    expect(parseHostPort('127.0.0.1:65536')).toMatch(/out of range/);
    expect(parseHostPort('127.0.0.1:123456')).toBe('"123456" is not a port number');
    expect(parseHostPort('127.0.0.1:-1')).toBe('"-1" is not a port number');
    expect(parseHostPort('127.0.0.1:http')).toBe('"http" is not a port number');
    expect(parseHostPort('127.0.0.1:8o')).toMatch(/not a port number/);
  });

  it('accepts port 0 unless told otherwise', () => {
    expect(parseHostPort('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseHostPort('127.0.0.1:0', { allowPortZero: false })).toBe(
      'port 0 is out of range (1-65535)',
    );
    expect(parseHostPort('127.0.0.1:1', { allowPortZero: false })).toEqual({
      host: '127.0.0.1',
      port: 1,
    });
  });

  it('refuses unbracketed IPv6 addresses, pointing at the bracket form', () => {
    expect(parseHostPort('::1:8080')).toBe(
      '"::1:8080": put IPv6 addresses in brackets, e.g. [::1]:8080',
    );
    expect(parseHostPort('2001:db8::5:443')).toMatch(/put IPv6 addresses in brackets/);
  });

  it('refuses non-IPv6 text in brackets and bad host names', () => {
    expect(parseHostPort('[1.2.3.4]:80')).toBe('"1.2.3.4" is not an IPv6 address');
    expect(parseHostPort('[nope]:80')).toBe('"nope" is not an IPv6 address');
    expect(parseHostPort('[]:80')).toMatch(/is not an IPv6 address/);
    expect(parseHostPort('bad host:80')).toBe('"bad host" is not a host name or IP address');
    expect(parseHostPort('-lead:80')).toMatch(/is not a host name or IP address/);
    expect(parseHostPort('a..b:80')).toMatch(/is not a host name or IP address/);
    expect(parseHostPort(`${'a'.repeat(64)}:80`)).toMatch(/is not a host name or IP address/);
  });

  it('parses what formatHostPort prints, for any IPv4 or IPv6 address and port', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.nat({ max: 65535 }), (ip, port) => {
        expect(parseHostPort(formatHostPort(ip, port))).toEqual({ host: ip, port });
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});

describe('formatHostPort', () => {
  it('brackets IPv6 literals only', () => {
    expect(formatHostPort('127.0.0.1', 80)).toBe('127.0.0.1:80');
    expect(formatHostPort('::1', 80)).toBe('[::1]:80');
    expect(formatHostPort('::', 8080)).toBe('[::]:8080');
    expect(formatHostPort('fe80::1', 0)).toBe('[fe80::1]:0');
    expect(formatHostPort('example.com', 443)).toBe('example.com:443');
  });
});

describe('unmapIPv4', () => {
  it('strips the IPv4-mapped prefix and leaves everything else alone', () => {
    expect(unmapIPv4('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(unmapIPv4('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(unmapIPv4('10.0.0.1')).toBe('10.0.0.1');
    expect(unmapIPv4('::1')).toBe('::1');
    expect(unmapIPv4('::ffff:abcd')).toBe('::ffff:abcd');
    expect(unmapIPv4('2001:db8::ffff:10.0.0.1')).toBe('2001:db8::ffff:10.0.0.1');
  });
});
