import { describe, expect, it } from 'vitest';
import {
  formatStatusSet,
  parseHealthHost,
  parseHealthPath,
  parseStatusSet,
} from './health-check-values.ts';

describe('parseStatusSet', () => {
  it('reads codes and ranges', () => {
    expect(parseStatusSet('200,204')).toEqual([
      [200, 200],
      [204, 204],
    ]);
    expect(formatStatusSet(parseStatusSet('200-299, 301'))).toBe('200-299,301');
  });

  it.each(['', '2xx', '20', '600', '299-200', '200,', 'abc'])('refuses %j', (text) => {
    expect(() => parseStatusSet(text)).toThrow();
  });
});

describe('parseHealthPath / parseHealthHost', () => {
  it('accepts an origin-form path and host names', () => {
    expect(parseHealthPath('/primary')).toBe('/primary');
    expect(parseHealthPath('/_cluster/health?local=true')).toBe('/_cluster/health?local=true');
    expect(parseHealthHost('db.example.com')).toBe('db.example.com');
    expect(parseHealthHost('[::1]:8008')).toBe('[::1]:8008');
  });

  it.each(['primary', '/a b', '/a\r\nX-Evil: 1', '/é'])('refuses the path %j', (p) => {
    expect(() => parseHealthPath(p)).toThrow();
  });

  it.each(['a b', 'a\r\nX: 1', 'host/path'])('refuses the host %j', (h) => {
    expect(() => parseHealthHost(h)).toThrow();
  });
});
