import { describe, expect, it } from 'vitest';
import {
  encodeCommand,
  RespErrorReply,
  RespParser,
  RespProtocolError,
  type RespValue,
} from './resp.ts';

/** Feed `bytes` cut at the given offsets; returns every reply. */
function feed(bytes: Buffer, cuts: readonly number[], parser = new RespParser()): RespValue[] {
  const out: RespValue[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(...parser.push(bytes.subarray(from, cut)));
    from = cut;
  }
  return out;
}

const STREAM = Buffer.from(
  '+OK\r\n' +
    '-WRONGPASS invalid username-password pair\r\n' +
    ':42\r\n' +
    ':-7\r\n' +
    '$5\r\nhello\r\n' +
    '$0\r\n\r\n' +
    '$-1\r\n' +
    '*-1\r\n' +
    '*0\r\n' +
    '*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6379\r\n' +
    '*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n$6\r\na\r\nb c\r\n' +
    '*2\r\n*2\r\n$2\r\nip\r\n:1\r\n*1\r\n*0\r\n',
);

const EXPECTED: RespValue[] = [
  'OK',
  new RespErrorReply('WRONGPASS invalid username-password pair'),
  42,
  -7,
  'hello',
  '',
  null,
  null,
  [],
  ['127.0.0.1', '6379'],
  ['message', '+switch-master', 'a\r\nb c'],
  [['ip', 1], [[]]],
];

describe('RESP2 parser', () => {
  it('parses every reply type in one chunk', () => {
    expect(feed(STREAM, [])).toEqual(EXPECTED);
  });

  it('gives the same replies whatever the split point (every single cut, then byte by byte)', () => {
    for (let cut = 1; cut < STREAM.length; cut++) {
      expect(feed(STREAM, [cut])).toEqual(EXPECTED);
    }
    const bytes = Array.from({ length: STREAM.length - 1 }, (_, i) => i + 1);
    expect(feed(STREAM, bytes)).toEqual(EXPECTED);
  });

  it('splits inside a CRLF and inside a bulk body that contains CRLF', () => {
    const b = Buffer.from('$4\r\na\r\nb\r\n+OK\r\n');
    expect(feed(b, [3, 4, 6, 7, 9])).toEqual(['a\r\nb', 'OK']);
  });

  it('keeps only the incomplete tail buffered', () => {
    const p = new RespParser();
    expect(p.push(Buffer.from('+OK\r\n$10\r\nabc'))).toEqual(['OK']);
    expect(p.buffered).toBe('$10\r\nabc'.length);
    expect(p.push(Buffer.from('defghij\r\n'))).toEqual(['abcdefghij']);
    expect(p.buffered).toBe(0);
  });

  it('refuses a reply that outgrows the bounded buffer (a line with no end, a huge bulk)', () => {
    const p = new RespParser(64);
    expect(() => p.push(Buffer.alloc(100, 'a'))).toThrow(RespProtocolError);
    const q = new RespParser(64);
    q.push(Buffer.from('$1000\r\n'));
    expect(() => q.push(Buffer.alloc(80, 'x'))).toThrow(RespProtocolError);
  });

  it('refuses malformed input', () => {
    for (const bad of [
      '?x\r\n',
      '$abc\r\n',
      '$-2\r\n',
      '*-5\r\n',
      ':1x\r\n',
      '$3\r\nabcXY',
      '*999999\r\n',
    ]) {
      expect(() => new RespParser().push(Buffer.from(bad)), bad).toThrow(RespProtocolError);
    }
  });

  it('refuses arrays nested absurdly deep', () => {
    expect(() => new RespParser().push(Buffer.from('*1\r\n'.repeat(20)))).toThrow(/deep/);
  });

  it('encodes commands as arrays of bulk strings (binary-safe: spaces, CRLF, UTF-8)', () => {
    expect(encodeCommand(['AUTH', 'p w\r\n€']).toString()).toBe(
      '*2\r\n$4\r\nAUTH\r\n$8\r\np w\r\n€\r\n',
    );
    expect(feed(encodeCommand(['SENTINEL', 'master', 'm']), [])).toEqual([
      ['SENTINEL', 'master', 'm'],
    ]);
  });
});
