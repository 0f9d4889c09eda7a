import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatCheckBytes,
  formatCheckExpect,
  parseCheckExpect,
  parseCheckSend,
  type CheckExpect,
} from './check-string.ts';

const SEED = 20_240_707;

function regexOf(e: CheckExpect): RegExp {
  if (e.kind !== 'regex') throw new Error(`expected a regex, got ${e.kind}`);
  return e.re;
}

describe('parseCheckSend', () => {
  it.each([
    ['PING', 'PING'],
    ['INFO replication\\r\\n', 'INFO replication\r\n'],
    ['a\\tb', 'a\tb'],
    ['back\\\\slash', 'back\\slash'],
    ['\\x00\\xff\\x7F', '\x00\xff\x7f'],
    ['\\x2a1\\r\\n', '*1\r\n'],
    ['\\\\x41', '\\x41'],
    ['\\n', '\n'],
  ])('%j → %j', (text, bytes) => {
    expect(parseCheckSend(text)).toEqual(Buffer.from(bytes, 'latin1'));
  });

  it('encodes text outside escapes as UTF-8', () => {
    expect(parseCheckSend('é\\n')).toEqual(Buffer.from([0xc3, 0xa9, 0x0a]));
  });

  it.each([
    ['\\q', /unknown escape "\\q" at position 1/],
    ['ab\\0', /unknown escape "\\0" at position 3/],
    ['abc\\', /trailing backslash at position 4/],
    ['\\x4', /"\\x4" at position 1 needs two hex digits/],
    ['\\xZZ', /needs two hex digits/],
    ['\\x', /needs two hex digits/],
    ['', /empty/],
  ])('refuses %j', (text, message) => {
    expect(() => parseCheckSend(text)).toThrow(message);
  });

  it('reads back what formatCheckBytes prints, for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (arr) => {
        const bytes = Buffer.from(arr);
        expect(parseCheckSend(formatCheckBytes(bytes))).toEqual(bytes);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});

describe('parseCheckExpect', () => {
  it('reads plain text as a substring, with escapes', () => {
    expect(parseCheckExpect('role:master')).toEqual({
      kind: 'substring',
      bytes: Buffer.from('role:master'),
    });
    expect(parseCheckExpect('+PONG\\r\\n')).toEqual({
      kind: 'substring',
      bytes: Buffer.from('+PONG\r\n'),
    });
  });

  it('reads /pattern/flags as a regex', () => {
    const re = regexOf(parseCheckExpect('/role:(master|primary)/i'));
    expect(re.source).toBe('role:(master|primary)');
    expect(re.flags).toBe('i');
    expect(re.test('ROLE:MASTER')).toBe(true);
    expect(regexOf(parseCheckExpect('/^\\+OK/m')).test('x\r\n+OK\r\n')).toBe(true);
    expect(regexOf(parseCheckExpect('/a/b/')).source).toBe('a\\/b');
    expect(regexOf(parseCheckExpect('/a.b/s')).test('a\nb')).toBe(true);
  });

  it('keeps text that is not /…/letters a substring, even with slashes', () => {
    expect(parseCheckExpect('/health')).toEqual({
      kind: 'substring',
      bytes: Buffer.from('/health'),
    });
    expect(parseCheckExpect('HTTP/1.1 200')).toEqual({
      kind: 'substring',
      bytes: Buffer.from('HTTP/1.1 200'),
    });
    expect(parseCheckExpect('/')).toEqual({ kind: 'substring', bytes: Buffer.from('/') });
    expect(parseCheckExpect('\\x2fok/i')).toEqual({
      kind: 'substring',
      bytes: Buffer.from('/ok/i'),
    });
  });

  it.each([
    ['/(unclosed/', /invalid regex \/\(unclosed\/: /],
    ['/a/gi', /regex flag "g" is not allowed/],
    ['/a/y', /regex flag "y" is not allowed/],
    ['/status/ok', /regex flag "ok" is not allowed.*\\x2f/],
    ['/a/ii', /invalid regex/],
    ['//', /regex is empty/],
    ['', /empty/],
    ['bad\\escape', /unknown escape "\\e"/],
  ])('refuses %j', (text, message) => {
    expect(() => parseCheckExpect(text)).toThrow(message);
  });

  it('formats back the way users write it', () => {
    expect(formatCheckExpect(parseCheckExpect('role:master\\r\\n'))).toBe('role:master\\r\\n');
    expect(formatCheckExpect(parseCheckExpect('/role:master/i'))).toBe('/role:master/i');
  });
});
