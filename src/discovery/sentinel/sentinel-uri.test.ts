import { describe, expect, it } from 'vitest';
import { parseBackendsUri } from '../../config/backends-uri.ts';

describe('parseBackendsUri: sentinel://', () => {
  it('parses MASTER@HOST:PORT[,HOST:PORT...] (role master by default)', () => {
    expect(parseBackendsUri('sentinel://mymaster@10.0.0.1:26379,[::1]:26380')).toEqual({
      scheme: 'sentinel',
      uri: 'sentinel://mymaster@10.0.0.1:26379,[::1]:26380',
      master: 'mymaster',
      role: 'master',
      sentinels: {
        scheme: 'static',
        uri: 'static://10.0.0.1:26379,[::1]:26380',
        backends: [
          { host: '10.0.0.1', port: 26379, weight: 1 },
          { host: '::1', port: 26380, weight: 1 },
        ],
      },
    });
  });

  it('finds the sentinels through dns:// or srv:// (a headless Service), with ?role=replica', () => {
    expect(
      parseBackendsUri('sentinel://cache@dns://sentinel.prod.svc.cluster.local:26379?role=replica'),
    ).toMatchObject({
      master: 'cache',
      role: 'replica',
      sentinels: { scheme: 'dns', name: 'sentinel.prod.svc.cluster.local.', port: 26379 },
    });
    expect(
      parseBackendsUri('sentinel://cache@srv://_sentinel._tcp.sentinel.prod.svc.cluster.local'),
    ).toMatchObject({
      role: 'master',
      sentinels: { scheme: 'srv', name: '_sentinel._tcp.sentinel.prod.svc.cluster.local.' },
    });
    expect(parseBackendsUri('sentinel://m@h:1?role=master')).toMatchObject({ role: 'master' });
  });

  it('refuses a missing or bad master name, a bad role or parameter, weights and other schemes', () => {
    expect(() => parseBackendsUri('sentinel://10.0.0.1:26379')).toThrow(/no master name/);
    expect(() => parseBackendsUri('sentinel://@10.0.0.1:26379')).toThrow(/not a master name/);
    expect(() => parseBackendsUri('sentinel://my master@10.0.0.1:26379')).toThrow(
      /not a master name/,
    );
    expect(() => parseBackendsUri('sentinel://m@10.0.0.1:26379?role=primary')).toThrow(
      /role "primary"/,
    );
    expect(() => parseBackendsUri('sentinel://m@10.0.0.1:26379?db=1')).toThrow(/unknown sentinel/);
    expect(() => parseBackendsUri('sentinel://m@10.0.0.1:26379=5')).toThrow(/no weight/);
    expect(() => parseBackendsUri('sentinel://m@k8s://redis')).toThrow(/dns:\/\/NAME:PORT/);
    expect(() => parseBackendsUri('sentinel://m@')).toThrow(/at least one/);
    expect(() => parseBackendsUri('sentinel://m@dns://10.0.0.1:26379')).toThrow(/IP address/);
    expect(() => parseBackendsUri('sentinel://m@10.0.0.1')).toThrow();
  });
});
