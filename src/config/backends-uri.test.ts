import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatHostPort } from '../core/address.ts';
import { MAX_WEIGHT, parseBackendsUri, SUPPORTED_SCHEMES } from './backends-uri.ts';

const SEED = 20_240_603;

function staticBackends(uri: string) {
  const spec = parseBackendsUri(uri);
  if (spec.scheme !== 'static') throw new Error(`not static: ${uri}`);
  return spec.backends;
}

describe('parseBackendsUri: static://', () => {
  it('parses a list of HOST:PORT with weight 1 by default', () => {
    expect(parseBackendsUri('static://10.0.0.1:6379,10.0.0.2:6380')).toEqual({
      scheme: 'static',
      uri: 'static://10.0.0.1:6379,10.0.0.2:6380',
      backends: [
        { host: '10.0.0.1', port: 6379, weight: 1 },
        { host: '10.0.0.2', port: 6380, weight: 1 },
      ],
    });
  });

  it('parses weights, host names and bracketed IPv6', () => {
    expect(staticBackends('static://a.example:1=5,[::1]:2=0,[2001:db8::7]:3,b:4=1000')).toEqual([
      { host: 'a.example', port: 1, weight: 5 },
      { host: '::1', port: 2, weight: 0 },
      { host: '2001:db8::7', port: 3, weight: 1 },
      { host: 'b', port: 4, weight: 1000 },
    ]);
  });

  it('accepts an upper-case scheme and surrounding spaces', () => {
    expect(staticBackends(' STATIC://10.0.0.1:1 ')).toEqual([
      { host: '10.0.0.1', port: 1, weight: 1 },
    ]);
  });

  it('refuses weights out of range or not whole numbers', () => {
    expect(() => parseBackendsUri('static://10.0.0.1:1=1001')).toThrow(
      `weight "1001" of "10.0.0.1:1" is not a whole number from 0 to ${MAX_WEIGHT}`,
    );
    for (const w of ['-1', '1.5', 'x', '']) {
      expect(() => parseBackendsUri(`static://10.0.0.1:1=${w}`)).toThrow(
        `weight "${w}" of "10.0.0.1:1" is not a whole number from 0 to 1000`,
      );
    }
  });

  it('refuses the same address twice', () => {
    expect(() => parseBackendsUri('static://10.0.0.1:1,10.0.0.2:1,10.0.0.1:1=3')).toThrow(
      '"10.0.0.1:1" is listed twice',
    );
    expect(() => parseBackendsUri('static://[::1]:1,[::1]:1')).toThrow('"[::1]:1" is listed twice');
  });

  it('allows the same host on different ports', () => {
    expect(staticBackends('static://10.0.0.1:1,10.0.0.1:2')).toHaveLength(2);
  });

  it('refuses unbracketed IPv6, missing hosts, missing and zero ports', () => {
    expect(() => parseBackendsUri('static://::1:80')).toThrow(/put IPv6 addresses in brackets/);
    expect(() => parseBackendsUri('static://:80')).toThrow('":80" has no host');
    expect(() => parseBackendsUri('static://10.0.0.1')).toThrow(/has no port/);
    expect(() => parseBackendsUri('static://10.0.0.1:0')).toThrow(
      'port 0 is out of range (1-65535)',
    );
    expect(() => parseBackendsUri('static://10.0.0.1:65536')).toThrow(/out of range/);
  });

  it('refuses an empty list and empty items', () => {
    expect(() => parseBackendsUri('static://')).toThrow('static:// needs at least one HOST:PORT');
    expect(() => parseBackendsUri('static://  ')).toThrow(/needs at least one/);
    expect(() => parseBackendsUri('static://10.0.0.1:1,')).toThrow(/has no port/);
  });

  it('parses any list of distinct addresses and weights it could have printed', () => {
    const item = fc.record({
      host: fc.oneof(fc.ipV4(), fc.ipV6()),
      port: fc.integer({ min: 1, max: 65535 }),
      weight: fc.integer({ min: 0, max: MAX_WEIGHT }),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(item, {
          minLength: 1,
          maxLength: 8,
          selector: (b) => `${b.host}:${b.port}`,
        }),
        (backends) => {
          const uri = `static://${backends.map((b) => `${formatHostPort(b.host, b.port)}=${b.weight}`).join(',')}`;
          expect(parseBackendsUri(uri)).toEqual({ scheme: 'static', uri, backends });
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });
});

describe('parseBackendsUri: other input', () => {
  it('names an unknown scheme and lists the supported ones', () => {
    expect(SUPPORTED_SCHEMES).toContain('static');
    expect(() => parseBackendsUri('dsn://x:1')).toThrow(
      'unknown scheme "dsn" (expected one of: static://, dns://, srv://, k8s://, sentinel://, k8s-routes://)',
    );
    expect(() => parseBackendsUri('DSN://svc')).toThrow(/^unknown scheme "dsn"/);
  });

  it('refuses text that is not a URI', () => {
    expect(() => parseBackendsUri('10.0.0.1:6379')).toThrow(
      '"10.0.0.1:6379" is not a URI (expected e.g. static://10.0.0.1:6379,10.0.0.2:6379)',
    );
    expect(() => parseBackendsUri('')).toThrow(/is not a URI/);
    expect(() => parseBackendsUri('static:/10.0.0.1:1')).toThrow(/is not a URI/);
  });
});

describe('parseBackendsUri: dns:// and srv://', () => {
  it('parses dns://NAME:PORT into an absolute name', () => {
    expect(parseBackendsUri('dns://db.prod.svc.cluster.local:6379')).toEqual({
      scheme: 'dns',
      uri: 'dns://db.prod.svc.cluster.local:6379',
      name: 'db.prod.svc.cluster.local.',
      port: 6379,
    });
    expect(parseBackendsUri('dns://db.prod.svc.cluster.local.:1')).toMatchObject({
      name: 'db.prod.svc.cluster.local.',
    });
  });

  it('refuses dns:// without a port, with an IP, or with a bad name', () => {
    expect(() => parseBackendsUri('dns://db.prod')).toThrow(/no port/);
    expect(() => parseBackendsUri('dns://10.0.0.1:80')).toThrow(/IP address.*static:\/\//);
    expect(() => parseBackendsUri('dns://bad_name!:80')).toThrow(/not a DNS name/);
    expect(() => parseBackendsUri('dns://db:0')).toThrow(/not a port/);
  });

  it('parses srv://_PORT._tcp.NAME and refuses other shapes', () => {
    expect(parseBackendsUri('srv://_redis._tcp.db.prod.svc.cluster.local')).toEqual({
      scheme: 'srv',
      uri: 'srv://_redis._tcp.db.prod.svc.cluster.local',
      name: '_redis._tcp.db.prod.svc.cluster.local.',
    });
    expect(() => parseBackendsUri('srv://db.prod.svc.cluster.local')).toThrow(/not an SRV name/);
    expect(() =>
      parseBackendsUri('srv://_dns._udp.kube-dns.kube-system.svc.cluster.local'),
    ).toThrow(/TCP only/);
  });
});
