import { SocketAddress, isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OptionRangeError } from '../core/errors.ts';
import { encodeV1, encodeV1Unknown, encodeV2, encodeV2Local } from './encode.ts';
import type { ProxyAddressInfo, ProxyHeader, ReadResult } from './header.ts';
import { ProxyHeaderReader } from './proxy-header-reader.ts';

const SEED = 20_240_602;
const SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

// === helpers ===

/** What a caller sees: the result, and every byte it would forward after the header. */
interface Outcome {
  readonly kind: ReadResult['kind'];
  readonly header?: ProxyHeader;
  readonly reason?: string;
  readonly forwarded?: Buffer;
}

/** Push `chunks` in order, as a connection handler would, stopping at `done` or `error`. */
function feed(chunks: readonly Buffer[], reader = new ProxyHeaderReader()): Outcome {
  for (let i = 0; i < chunks.length; i++) {
    const result = reader.push(chunks[i] ?? Buffer.alloc(0));
    if (result.kind === 'error') return { kind: 'error', reason: result.reason };
    if (result.kind === 'done') {
      return {
        kind: 'done',
        header: result.header,
        forwarded: Buffer.concat([result.rest, ...chunks.slice(i + 1)]),
      };
    }
  }
  return { kind: 'need-more' };
}

function splitAt(bytes: Buffer, points: readonly number[]): Buffer[] {
  const cuts = [...new Set(points.map((p) => Math.min(p, bytes.length)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const cut of cuts) {
    chunks.push(bytes.subarray(from, cut));
    from = cut;
  }
  chunks.push(bytes.subarray(from));
  return chunks;
}

function bytewise(bytes: Buffer): Buffer[] {
  return Array.from(bytes, (b) => Buffer.of(b));
}

function read(text: string | Buffer): Outcome {
  return feed([typeof text === 'string' ? Buffer.from(text, 'latin1') : text]);
}

function v2(verCmd: number, family: number, body: Buffer | string, length?: number): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'hex') : body;
  const fixed = Buffer.alloc(4);
  fixed[0] = verCmd;
  fixed[1] = family;
  fixed.writeUInt16BE(length ?? b.length, 2);
  return Buffer.concat([SIGNATURE, fixed, b]);
}

function tlv(type: number, value: Buffer | string): Buffer {
  const v = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const head = Buffer.alloc(3);
  head[0] = type;
  head.writeUInt16BE(v.length, 1);
  return Buffer.concat([head, v]);
}

/** Node's canonical text of an IPv6 address. */
function nodeIPv6(address: string): string {
  return new SocketAddress({ address, family: 'ipv6' }).address;
}

const TCP4_BODY = 'ac130001ac130003a6520050'; // 172.19.0.1:42578 → 172.19.0.3:80

// === reference decoder ===

type Reference =
  | { readonly kind: 'need-more' }
  | { readonly kind: 'error' }
  | { readonly kind: 'done'; readonly header: ProxyHeader; readonly length: number };

/**
 * A slow, whole-buffer statement of the accepted language, written
 * independently of the reader (regexes and node:net) to check it against.
 */
function reference(b: Buffer, maxV2 = 4096): Reference {
  if (b.length === 0) return { kind: 'need-more' };
  if (b[0] === 0x50) return referenceV1(b);
  if (b[0] === 0x0d) return referenceV2(b, maxV2);
  return { kind: 'error' };
}

function referenceV1(b: Buffer): Reference {
  const need = { kind: 'need-more' } as const;
  const bad = { kind: 'error' } as const;
  const n = Math.min(b.length, 6);
  if (!b.subarray(0, n).equals(Buffer.from('PROXY ').subarray(0, n))) return bad;
  const window = b.subarray(0, 107).toString('latin1');
  const crlf = window.indexOf('\r\n', 6);
  let body = crlf < 0 ? window.slice(6) : window.slice(6, crlf);
  if (crlf < 0 && b.length < 107 && body.endsWith('\r')) body = body.slice(0, -1);
  if (!/^[\x20-\x7e]*$/.test(body)) return bad;
  if (crlf < 0) return b.length >= 107 ? bad : need;
  const length = crlf + 2;
  if (/^UNKNOWN(?: .*)?$/.test(body)) {
    return { kind: 'done', header: { command: 'local', version: 1 }, length };
  }
  const m = /^(TCP4|TCP6) ([^ ]+) ([^ ]+) (0|[1-9]\d{0,4}) (0|[1-9]\d{0,4})$/.exec(body);
  if (!m) return bad;
  const [, protocol = '', src = '', dst = '', sp = '', dp = ''] = m;
  const v4 = protocol === 'TCP4';
  const ok = (a: string) => (v4 ? isIP(a) === 4 : isIP(a) === 6 && !a.includes('%'));
  if (!ok(src) || !ok(dst) || Number(sp) > 65535 || Number(dp) > 65535) return bad;
  return {
    kind: 'done',
    header: {
      command: 'proxy',
      version: 1,
      family: v4 ? 'tcp4' : 'tcp6',
      sourceAddress: v4 ? src : nodeIPv6(src),
      sourcePort: Number(sp),
      destAddress: v4 ? dst : nodeIPv6(dst),
      destPort: Number(dp),
    },
    length,
  };
}

function referenceV2(b: Buffer, maxV2: number): Reference {
  const need = { kind: 'need-more' } as const;
  const bad = { kind: 'error' } as const;
  const n = Math.min(b.length, 12);
  if (!b.subarray(0, n).equals(SIGNATURE.subarray(0, n))) return bad;
  const verCmd = b[12];
  if (verCmd !== undefined && verCmd !== 0x20 && verCmd !== 0x21) return bad;
  const family = b[13];
  const known = [0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32];
  if (verCmd === 0x21 && family !== undefined && !known.includes(family)) return bad;
  if (b.length < 16 || family === undefined) return need;
  const length = b.readUInt16BE(14);
  if (length > maxV2) return bad;
  const addressBytes = verCmd === 0x21 ? ([0, 12, 36, 216][family >> 4] ?? 0) : 0;
  if (length < addressBytes) return bad;
  const total = 16 + length;
  if (b.length < total) return need;
  if (verCmd === 0x20 || (family !== 0x11 && family !== 0x21)) {
    return { kind: 'done', header: { command: 'local', version: 2 }, length: total };
  }
  const block = b.subarray(16, total);
  const ip = (at: number): string =>
    family === 0x11
      ? Array.from(block.subarray(at, at + 4)).join('.')
      : nodeIPv6(
          Array.from({ length: 8 }, (_, i) => block.readUInt16BE(at + 2 * i).toString(16)).join(
            ':',
          ),
        );
  const size = family === 0x11 ? 4 : 16;
  let authority: string | undefined;
  let at = 2 * size + 4;
  while (at < block.length) {
    if (at + 3 > block.length) return bad;
    const end = at + 3 + block.readUInt16BE(at + 1);
    if (end > block.length) return bad;
    if (block[at] === 0x02 && end > at + 3) authority = block.toString('utf8', at + 3, end);
    at = end;
  }
  return {
    kind: 'done',
    header: {
      command: 'proxy',
      version: 2,
      family: family === 0x11 ? 'tcp4' : 'tcp6',
      sourceAddress: ip(0),
      sourcePort: block.readUInt16BE(2 * size),
      destAddress: ip(size),
      destPort: block.readUInt16BE(2 * size + 2),
      ...(authority === undefined ? {} : { authority }),
    },
    length: total,
  };
}

/** The reader, fed `chunks`, behaves exactly as the reference says for their concatenation. */
function expectAsReference(chunks: readonly Buffer[], maxV2?: number): void {
  const whole = Buffer.concat(chunks);
  const expected = reference(whole, maxV2);
  const actual = feed(chunks, new ProxyHeaderReader({ maxV2LengthBytes: maxV2 ?? 4096 }));
  expect(actual.kind, `${whole.toString('hex')}: ${actual.reason ?? ''}`).toBe(expected.kind);
  if (expected.kind === 'done') {
    expect(actual.header).toEqual(expected.header);
    expect(actual.forwarded).toEqual(whole.subarray(expected.length));
  }
}

// === v1 ===

describe('ProxyHeaderReader: v1', () => {
  it.each([
    [
      'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n',
      {
        command: 'proxy',
        version: 1,
        family: 'tcp4',
        sourceAddress: '192.168.0.1',
        sourcePort: 56324,
        destAddress: '192.168.0.11',
        destPort: 443,
      },
      'GET / HTTP/1.1\r\n',
    ],
    [
      'PROXY TCP4 255.255.255.255 0.0.0.0 65535 0\r\n',
      {
        command: 'proxy',
        version: 1,
        family: 'tcp4',
        sourceAddress: '255.255.255.255',
        sourcePort: 65535,
        destAddress: '0.0.0.0',
        destPort: 0,
      },
      '',
    ],
    [
      'PROXY TCP6 2001:DB8:0:0::1 ::FFFF:10.0.0.1 1 2\r\nx',
      {
        command: 'proxy',
        version: 1,
        family: 'tcp6',
        sourceAddress: '2001:db8::1',
        sourcePort: 1,
        destAddress: '::ffff:10.0.0.1',
        destPort: 2,
      },
      'x',
    ],
    ['PROXY UNKNOWN\r\nhello', { command: 'local', version: 1 }, 'hello'],
    [
      'PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n',
      { command: 'local', version: 1 },
      '',
    ],
    ['PROXY UNKNOWN whatever  the sender wants\r\n\r\n', { command: 'local', version: 1 }, '\r\n'],
  ])('%j', (text, header, rest) => {
    const outcome = read(text);
    expect(outcome).toEqual({
      kind: 'done',
      header,
      forwarded: Buffer.from(rest, 'latin1'),
    });
  });

  it.each([
    ['GET / HTTP/1.1\r\n', 'not a PROXY protocol header'],
    ['PROXY\r\n', 'not a PROXY protocol header'],
    ['proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n', 'not a PROXY protocol header'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n', 'v1: LF without CR'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rx\n', 'v1: CR not followed by LF'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8\t1 2\r\n', 'v1: not printable ASCII'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\u00e9\r\n', 'v1: not printable ASCII'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n', /^v1: expected "TCP4\|TCP6 SRC DST/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n', /^v1: expected/],
    ['PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n', /^v1: expected/],
    ['PROXY UNKNOWNX\r\n', /^v1: expected/],
    ['PROXY \r\n', /^v1: expected/],
    ['PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n', 'v1: unknown protocol "TCP5"'],
    ['PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n', 'v1: unknown protocol "tcp4"'],
    ['PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n', 'v1: "01.2.3.4" is not an IPv4 address'],
    ['PROXY TCP4 1.2.3.4 5.6.7.256 1 2\r\n', 'v1: "5.6.7.256" is not an IPv4 address'],
    ['PROXY TCP4 ::1 ::1 1 2\r\n', 'v1: "::1" is not an IPv4 address'],
    ['PROXY TCP6 1.2.3.4 ::1 1 2\r\n', 'v1: "1.2.3.4" is not an IPv6 address'],
    ['PROXY TCP6 ::1 fe80::1%eth0 1 2\r\n', 'v1: "fe80::1%eth0" is not an IPv6 address'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n', 'v1: "080" is not a port'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n', 'v1: "65536" is not a port'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n', 'v1: "-1" is not a port'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 123456\r\n', 'v1: "123456" is not a port'],
    [`PROXY UNKNOWN ${'x'.repeat(92)}\r\n`, 'v1: no CRLF within 107 bytes'],
  ])('refuses %j: %s', (text, reason) => {
    const outcome = read(text);
    expect(outcome.kind).toBe('error');
    if (typeof reason === 'string') expect(outcome.reason).toBe(reason);
    else expect(outcome.reason).toMatch(reason);
    // The same verdict, however the bytes arrive.
    expect(feed(bytewise(Buffer.from(text, 'latin1')))).toEqual(outcome);
  });

  it('accepts a line of exactly 107 bytes and refuses 108 at the 107th byte', () => {
    const max = `PROXY UNKNOWN ${'x'.repeat(92)}\r\n`;
    expect(max.length).toBe(108);
    const fits = `PROXY UNKNOWN ${'x'.repeat(91)}\r\n`;
    expect(read(fits).kind).toBe('done');
    const reader = new ProxyHeaderReader();
    const bytes = Buffer.from(max, 'latin1');
    for (let i = 0; i < 106; i++)
      expect(reader.push(bytes.subarray(i, i + 1)).kind).toBe('need-more');
    expect(reader.push(bytes.subarray(106, 107))).toEqual({
      kind: 'error',
      reason: 'v1: no CRLF within 107 bytes',
    });
  });

  it('waits for the whole line', () => {
    const reader = new ProxyHeaderReader();
    expect(reader.push(Buffer.from('P'))).toEqual({ kind: 'need-more' });
    expect(reader.push(Buffer.from('ROXY TCP4 1.2.3.4 5.6.7.8 1 2\r'))).toEqual({
      kind: 'need-more',
    });
    const done = reader.push(Buffer.from('\nAB'));
    expect(done.kind).toBe('done');
    expect(done.kind === 'done' && done.rest.toString()).toBe('AB');
  });

  it('rejects garbage at the first byte that cannot be part of a header', () => {
    const reader = new ProxyHeaderReader();
    expect(reader.push(Buffer.from('PRO')).kind).toBe('need-more');
    expect(reader.push(Buffer.from('Z')).kind).toBe('error');
  });
});

// === v2 ===

describe('ProxyHeaderReader: v2', () => {
  const tcp4 = {
    command: 'proxy',
    version: 2,
    family: 'tcp4',
    sourceAddress: '172.19.0.1',
    sourcePort: 42578,
    destAddress: '172.19.0.3',
    destPort: 80,
  } as const;

  it('reads TCP over IPv4 (as haproxy sends it)', () => {
    const bytes = Buffer.concat([v2(0x21, 0x11, TCP4_BODY), Buffer.from('GET /')]);
    expect(read(bytes)).toEqual({ kind: 'done', header: tcp4, forwarded: Buffer.from('GET /') });
  });

  it('reads TCP over IPv6', () => {
    const body =
      '20010db8000000000000000000000001' + '00000000000000000000ffff0a000001' + '04d2162e';
    expect(read(v2(0x21, 0x21, body))).toEqual({
      kind: 'done',
      header: {
        command: 'proxy',
        version: 2,
        family: 'tcp6',
        sourceAddress: '2001:db8::1',
        sourcePort: 1234,
        destAddress: '::ffff:10.0.0.1',
        destPort: 5678,
      },
      forwarded: Buffer.alloc(0),
    });
  });

  it('reads the authority TLV and skips the others', () => {
    const body = Buffer.concat([
      Buffer.from(TCP4_BODY, 'hex'),
      tlv(0x04, Buffer.alloc(5)), // NOOP
      tlv(0x02, 'bücher.example'),
      tlv(0x20, Buffer.from('0100000000', 'hex')), // SSL
      tlv(0xea, 'vpce-0123'), // AWS
    ]);
    expect(read(v2(0x21, 0x11, body)).header).toEqual({ ...tcp4, authority: 'bücher.example' });
    const empty = Buffer.concat([Buffer.from(TCP4_BODY, 'hex'), tlv(0x02, '')]);
    expect(read(v2(0x21, 0x11, empty)).header).toEqual(tcp4);
  });

  it.each([
    ['LOCAL, UNSPEC', 0x20, 0x00, ''],
    ['LOCAL with addresses, which are ignored', 0x20, 0x11, TCP4_BODY],
    ['LOCAL with an undefined family, which is ignored', 0x20, 0xff, '0102'],
    ['PROXY, UNSPEC', 0x21, 0x00, 'abcd'],
    ['PROXY, UDP over IPv4', 0x21, 0x12, TCP4_BODY],
    ['PROXY, UDP over IPv6', 0x21, 0x22, '00'.repeat(36)],
    ['PROXY, UNIX stream', 0x21, 0x31, '00'.repeat(216)],
    ['PROXY, UNIX datagram', 0x21, 0x32, '00'.repeat(220)],
  ])('%s → local', (_name, verCmd, family, body) => {
    const bytes = Buffer.concat([v2(verCmd, family, body), Buffer.from('rest')]);
    expect(read(bytes)).toEqual({
      kind: 'done',
      header: { command: 'local', version: 2 },
      forwarded: Buffer.from('rest'),
    });
  });

  it.each([
    ['version 1', v2(0x11, 0x11, TCP4_BODY), 'v2: unsupported version 1'],
    ['version 3', v2(0x31, 0x11, TCP4_BODY), 'v2: unsupported version 3'],
    ['command 2', v2(0x22, 0x11, TCP4_BODY), 'v2: unknown command 2'],
    ['family 0x41', v2(0x21, 0x41, TCP4_BODY), 'v2: unknown address family/protocol 0x41'],
    ['protocol 3', v2(0x21, 0x13, TCP4_BODY), 'v2: unknown address family/protocol 0x13'],
    ['family 0x10', v2(0x21, 0x10, TCP4_BODY), 'v2: unknown address family/protocol 0x10'],
    [
      'short IPv4 block',
      v2(0x21, 0x11, TCP4_BODY.slice(0, 22)),
      'v2: 11-byte address block is too short for family 0x11',
    ],
    [
      'short IPv6 block',
      v2(0x21, 0x21, TCP4_BODY),
      'v2: 12-byte address block is too short for family 0x21',
    ],
    [
      'short UNIX block',
      v2(0x21, 0x31, '00'.repeat(108)),
      'v2: 108-byte address block is too short for family 0x31',
    ],
    ['TLV header cut', v2(0x21, 0x11, `${TCP4_BODY}0200`), 'v2: truncated TLV'],
    ['TLV value cut', v2(0x21, 0x11, `${TCP4_BODY}020005616263`), 'v2: truncated TLV'],
    [
      'oversized',
      v2(0x21, 0x11, Buffer.alloc(0), 4097),
      'v2: oversized header (4097 bytes > 4096)',
    ],
    [
      'bad signature',
      Buffer.from('0d0a0d0a000d0a515549540b', 'hex'),
      'not a PROXY protocol header',
    ],
    ['CRLF then data', Buffer.from('\r\nGET'), 'not a PROXY protocol header'],
  ])('refuses %s', (_name, bytes, reason) => {
    expect(read(bytes)).toEqual({ kind: 'error', reason });
    expect(feed(bytewise(bytes))).toEqual({ kind: 'error', reason });
  });

  it('validates its options', () => {
    expect(() => new ProxyHeaderReader({ maxV2LengthBytes: -1 })).toThrow(OptionRangeError);
    expect(() => new ProxyHeaderReader({ maxV2LengthBytes: 65536 })).toThrow(
      'maxV2LengthBytes must be an integer 0-65535, got 65536',
    );
    expect(() => new ProxyHeaderReader({ maxV2LengthBytes: 0xffff })).not.toThrow();
  });

  it('refuses an oversized header as soon as the length arrives', () => {
    const reader = new ProxyHeaderReader();
    expect(reader.push(v2(0x21, 0x11, Buffer.alloc(0), 0xffff)).kind).toBe('error');
    const small = new ProxyHeaderReader({ maxV2LengthBytes: 12 });
    expect(small.push(v2(0x21, 0x11, `${TCP4_BODY}040000`))).toEqual({
      kind: 'error',
      reason: 'v2: oversized header (15 bytes > 12)',
    });
    expect(feed([v2(0x21, 0x11, TCP4_BODY)], small).kind).toBe('error');
    expect(
      feed([v2(0x21, 0x11, TCP4_BODY)], new ProxyHeaderReader({ maxV2LengthBytes: 12 })),
    ).toEqual({ kind: 'done', header: tcp4, forwarded: Buffer.alloc(0) });
  });

  it('refuses a bad version or family byte before the rest of the header arrives', () => {
    const reader = new ProxyHeaderReader();
    expect(reader.push(SIGNATURE).kind).toBe('need-more');
    expect(reader.push(Buffer.of(0x41))).toEqual({
      kind: 'error',
      reason: 'v2: unsupported version 4',
    });
    const family = new ProxyHeaderReader();
    expect(family.push(Buffer.concat([SIGNATURE, Buffer.of(0x21)])).kind).toBe('need-more');
    expect(family.push(Buffer.of(0x41))).toEqual({
      kind: 'error',
      reason: 'v2: unknown address family/protocol 0x41',
    });
  });
});

// === reader life cycle and buffering ===

describe('ProxyHeaderReader: life cycle', () => {
  it('waits on empty chunks', () => {
    const reader = new ProxyHeaderReader();
    expect(reader.push(Buffer.alloc(0)).kind).toBe('need-more');
    expect(reader.push(Buffer.from('PROXY UNKNOWN')).kind).toBe('need-more');
    expect(reader.push(Buffer.alloc(0)).kind).toBe('need-more');
    expect(reader.push(Buffer.from('\r\n')).kind).toBe('done');
  });

  it('is finished after done or error', () => {
    const done = new ProxyHeaderReader();
    expect(done.push(encodeV2Local()).kind).toBe('done');
    expect(done.push(Buffer.from('more'))).toEqual({
      kind: 'error',
      reason: 'the PROXY header was already read',
    });
    const failed = new ProxyHeaderReader();
    const error = failed.push(Buffer.from('nope'));
    expect(failed.push(encodeV2Local())).toBe(error);
  });

  it('hands back the rest of a whole-header chunk without copying it', () => {
    const chunk = Buffer.concat([encodeV1Unknown(), Buffer.from('payload')]);
    const result = new ProxyHeaderReader().push(chunk);
    if (result.kind !== 'done') throw new Error(result.kind);
    expect(result.rest.buffer).toBe(chunk.buffer);
    expect(result.rest.byteOffset).toBe(chunk.byteOffset + 15);
  });

  it('hands back the rest of the last chunk without copying it when the header spans chunks', () => {
    const header = encodeV2({
      family: 'tcp6',
      sourceAddress: '2001:db8::1',
      sourcePort: 1,
      destAddress: '2001:db8::2',
      destPort: 2,
    });
    const reader = new ProxyHeaderReader();
    expect(reader.push(header.subarray(0, 5)).kind).toBe('need-more');
    expect(reader.push(header.subarray(5, 20)).kind).toBe('need-more');
    const last = Buffer.concat([header.subarray(20), Buffer.from('xyz')]);
    const result = reader.push(last);
    if (result.kind !== 'done') throw new Error(result.kind);
    expect(result.rest.toString()).toBe('xyz');
    expect(result.rest.buffer).toBe(last.buffer);
  });

  it('does not keep the caller’s chunks: later edits to them do not change the header', () => {
    const chunk = Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2');
    const reader = new ProxyHeaderReader();
    reader.push(chunk);
    chunk.fill(0);
    const result = reader.push(Buffer.from('\r\n'));
    expect(result.kind === 'done' && result.header.sourceAddress).toBe('1.2.3.4');
  });
});

// === properties ===

const port = fc.integer({ min: 0, max: 65535 });
const address = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.ipV4().map((a) => `::ffff:${a}`),
);
const addressInfo: fc.Arbitrary<ProxyAddressInfo> = fc
  .record({ sourceAddress: address, sourcePort: port, destAddress: address, destPort: port })
  .map((i) => ({ ...i, family: isV4(i.sourceAddress) && isV4(i.destAddress) ? 'tcp4' : 'tcp6' }));

function isV4(a: string): boolean {
  return isIP(a) === 4 || /^::ffff:\d+\.\d+\.\d+\.\d+$/.test(a);
}

/** The header a receiver should decode from what `encodeVn(info)` sent. */
function expectedHeader(info: ProxyAddressInfo, version: 1 | 2): ProxyHeader {
  const v4 = info.family === 'tcp4';
  const canonical = (a: string) =>
    v4 ? a.replace(/^::ffff:/, '') : nodeIPv6(isIP(a) === 4 ? `::ffff:${a}` : a);
  return {
    command: 'proxy',
    version,
    family: info.family,
    sourceAddress: canonical(info.sourceAddress),
    sourcePort: info.sourcePort,
    destAddress: canonical(info.destAddress),
    destPort: info.destPort,
  };
}

describe('ProxyHeaderReader: properties', () => {
  it('decodes what encodeV1/encodeV2 write, split at every point, with the exact rest', () => {
    fc.assert(
      fc.property(
        addressInfo,
        fc.constantFrom(1 as const, 2 as const),
        fc.uint8Array({ maxLength: 40 }),
        (info, version, tail) => {
          const header = version === 1 ? encodeV1(info) : encodeV2(info);
          const bytes = Buffer.concat([header, tail]);
          const expected = {
            kind: 'done',
            header: expectedHeader(info, version),
            forwarded: Buffer.from(tail),
          };
          expect(feed([bytes])).toEqual(expected);
          expect(feed(bytewise(bytes))).toEqual(expected);
          for (let cut = 0; cut <= bytes.length; cut++) {
            expect(feed(splitAt(bytes, [cut]))).toEqual(expected);
          }
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('decodes LOCAL and UNKNOWN at every split point', () => {
    for (const [header, version] of [
      [encodeV2Local(), 2],
      [encodeV1Unknown(), 1],
    ] as const) {
      const bytes = Buffer.concat([header, Buffer.from('after')]);
      for (let cut = 0; cut <= bytes.length; cut++) {
        expect(feed(splitAt(bytes, [cut]))).toEqual({
          kind: 'done',
          header: { command: 'local', version },
          forwarded: Buffer.from('after'),
        });
      }
    }
  });

  it('gives the same verdict as the reference decoder for any input, however it is split', () => {
    const anyBytes = fc.uint8Array({ maxLength: 120 }).map((a) => Buffer.from(a));
    const printable = fc.string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    });
    const v1Token = fc.oneof(
      fc.constantFrom('TCP4', 'TCP6', 'UNKNOWN', 'tcp4', 'TCP5', ''),
      fc.ipV4(),
      fc.ipV6(),
      fc.constantFrom(
        '01.2.3.4',
        '1.2.3',
        '256.1.1.1',
        '::ffff:1.2.3.4',
        'fe80::1%eth0',
        'A::B',
        ':::',
      ),
      fc.integer({ min: 0, max: 70000 }).map(String),
      fc.constantFrom('080', '00', '-1', '65536', '65535', '0', '1e3', '+1'),
      printable,
    );
    const portText = fc.integer({ min: 0, max: 65535 }).map(String);
    const v1Valid = fc.oneof(
      fc.tuple(fc.constant('TCP4'), fc.ipV4(), fc.ipV4(), portText, portText),
      fc.tuple(fc.constant('TCP6'), fc.ipV6(), fc.ipV6(), portText, portText),
    );
    const v1Tokens = fc.oneof(
      fc.array(v1Token, { maxLength: 7 }),
      fc.tuple(fc.constantFrom('TCP4', 'TCP6', 'UNKNOWN'), v1Token, v1Token, v1Token, v1Token),
      v1Valid,
      // A valid line with one field swapped for a random token.
      fc
        .tuple(v1Valid, fc.nat(4), v1Token)
        .map(([tokens, i, token]) => tokens.map((t, j) => (j === i ? token : t))),
    );
    const v1Line = fc
      .tuple(
        v1Tokens,
        fc.constantFrom(' ', ' ', ' ', '  ', '\t'),
        fc.constantFrom('\r\n', '\r\n', '\r\n', '\r', '\n', '', '\n\r', '\r\r\n'),
        anyBytes,
      )
      .map(([tokens, sep, end, tail]) =>
        Buffer.concat([Buffer.from(`PROXY ${tokens.join(sep)}${end}`, 'latin1'), tail]),
      );
    const tlvs = fc
      .array(
        fc.tuple(fc.constantFrom(0x01, 0x02, 0x04, 0x20, 0xea), fc.string({ maxLength: 12 })),
        { maxLength: 3 },
      )
      .map((list) => Buffer.concat(list.map(([t, v]) => tlv(t, v))));
    const fixedPart = (verCmd: number, family: number, length: number): Buffer => {
      const fixed = Buffer.alloc(4);
      fixed[0] = verCmd;
      fixed[1] = family;
      fixed.writeUInt16BE(length, 2);
      return Buffer.concat([SIGNATURE, fixed]);
    };
    // TCP PROXY headers with random addresses and TLVs: mostly valid, sometimes
    // with a length a little off or a TLV cut short.
    const v2Tcp = fc
      .tuple(
        fc.constantFrom(0x11, 0x21),
        fc.uint8Array({ minLength: 36, maxLength: 36 }),
        tlvs,
        fc.oneof(fc.constant(0), fc.integer({ min: -4, max: 4 })),
        fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3 })),
        anyBytes,
      )
      .map(([family, block, extensions, lengthDelta, cut, tail]) => {
        const body = Buffer.concat([
          Buffer.from(block).subarray(0, family === 0x11 ? 12 : 36),
          extensions.subarray(0, extensions.length - cut),
        ]);
        const length = Math.max(0, body.length + lengthDelta);
        return Buffer.concat([fixedPart(0x21, family, length), body, tail]);
      });
    const v2Fuzzy = fc
      .tuple(
        fc.oneof(
          fc.constant(SIGNATURE),
          anyBytes.map((b) => Buffer.concat([SIGNATURE.subarray(0, 11), b])),
        ),
        fc.oneof(
          fc.constantFrom(0x20, 0x21, 0x22, 0x11, 0x31, 0x2f),
          fc.integer({ min: 0, max: 255 }),
        ),
        fc.oneof(
          fc.constantFrom(0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32, 0x13, 0x41, 0x10),
          fc.integer({ min: 0, max: 255 }),
        ),
        fc.oneof(
          // Address block plus well-formed TLVs, with the exact length.
          fc.tuple(fc.constantFrom(0, 12, 36, 216), tlvs).map(([size, extensions]) => {
            const body = Buffer.concat([Buffer.alloc(size, 0x7f), extensions]);
            return { body, length: body.length };
          }),
          // Anything, with any length.
          fc
            .tuple(
              anyBytes,
              fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constantFrom(4096, 4097, 0xffff)),
            )
            .map(([body, length]) => ({ body, length })),
        ),
        anyBytes,
      )
      .map(([signature, verCmd, family, { body, length }, tail]) =>
        Buffer.concat([signature, fixedPart(verCmd, family, length).subarray(12), body, tail]),
      );
    const v2Header = fc.oneof(v2Tcp, v2Fuzzy);
    const input = fc.oneof(anyBytes, v1Line, v2Header);
    const cuts = fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 6 });

    fc.assert(
      fc.property(input, cuts, (bytes, points) => {
        expectAsReference([bytes]);
        expectAsReference(splitAt(bytes, points));
        expectAsReference(bytewise(bytes.subarray(0, 140)));
        expectAsReference(splitAt(bytes, points), 100);
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  it('never throws, and only reads a header from input that starts with one', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.array(fc.nat(300), { maxLength: 5 }),
        (raw, points) => {
          const bytes = Buffer.from(raw);
          const outcome = feed(splitAt(bytes, points));
          const startsLikeHeader =
            bytes.subarray(0, 6).toString('latin1') === 'PROXY ' ||
            bytes.subarray(0, 12).equals(SIGNATURE);
          if (!startsLikeHeader) expect(outcome.kind).not.toBe('done');
          if (!startsLikeHeader && bytes.length >= 12) expect(outcome.kind).toBe('error');
        },
      ),
      { seed: SEED, numRuns: 3000 },
    );
  });
});
