import { type AddressInfo, createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { type ConnectionOptions, connect } from 'node:tls';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { OptionRangeError } from '../core/errors.ts';
import {
  ClientHelloReader,
  DEFAULT_MAX_CLIENT_HELLO_BYTES,
  NOT_TLS_REASON,
  OVERSIZED_REASON,
  type SniResult,
} from './client-hello-reader.ts';

const SEED = 20_250_611;
const NAME = 'db-1.db.example.com';
const ALPN = ['h2', 'http/1.1'];
/** About 20 KiB of ALPN, so that OpenSSL splits the hello over two records. */
const MANY_PROTOCOLS = Array.from({ length: 100 }, (_, i) => `${'p'.repeat(200)}${i}`);
/** Enough for the large hello (two records, about 22 KiB). */
const LARGE_MAX_BYTES = 64 * 1024;

// === helpers ===

/**
 * Stream bytes up to the end of the ClientHello, found by record framing
 * alone (written apart from the reader under test), or undefined while
 * incomplete. Real clients put the handshake header in the first record.
 */
function helloEnd(bytes: Buffer): number | undefined {
  let at = 0;
  let payload = 0;
  let need = Infinity;
  while (at + 5 <= bytes.length) {
    const size = bytes.readUInt16BE(at + 3);
    if (at + 5 + size > bytes.length) return undefined;
    if (at === 0) need = 4 + bytes.readUIntBE(6, 3);
    payload += size;
    at += 5 + size;
    if (payload >= need) return at;
  }
  return undefined;
}

/** The bytes `tls.connect(options)` sends first, read by a plain TCP server. */
async function captureClientHello(options: ConnectionOptions): Promise<Buffer> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const hello = new Promise<Buffer>((resolve, reject) => {
    server.once('connection', (socket) => {
      const chunks: Buffer[] = [];
      socket.on('error', reject);
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        const bytes = Buffer.concat(chunks);
        const end = helloEnd(bytes);
        if (end === undefined) return;
        socket.destroy();
        resolve(bytes.subarray(0, end));
      });
    });
  });
  const client = connect({ host: '127.0.0.1', port, ...options });
  // The server hangs up mid-handshake.
  client.on('error', () => undefined);
  try {
    return await hello;
  } finally {
    client.destroy();
    server.close();
  }
}

/** Push `chunks` in order, checking that every result before the last is need-more. */
function feed(chunks: readonly Buffer[], reader = new ClientHelloReader()): SniResult {
  let result: SniResult = { kind: 'need-more' };
  for (const chunk of chunks) {
    result = reader.push(chunk);
    if (result.kind !== 'need-more') break;
  }
  return result;
}

function splitAt(bytes: Buffer, ...points: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let from = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(from, point));
    from = point;
  }
  chunks.push(bytes.subarray(from));
  return chunks;
}

function bytewise(bytes: Buffer): Buffer[] {
  return Array.from(bytes, (b) => Buffer.of(b));
}

/** One record header per fragment; `fragments` must be handshake bytes. */
function records(fragments: readonly Buffer[], version = 0x0301): Buffer {
  return Buffer.concat(
    fragments.flatMap((fragment) => {
      const header = Buffer.alloc(5);
      header[0] = 22;
      header.writeUInt16BE(version, 1);
      header.writeUInt16BE(fragment.length, 3);
      return [header, fragment];
    }),
  );
}

/** The handshake message(s) carried by the records of `bytes`. */
function handshakeOf(bytes: Buffer): Buffer {
  const fragments: Buffer[] = [];
  for (let at = 0; at + 5 <= bytes.length; at += 5 + bytes.readUInt16BE(at + 3)) {
    fragments.push(bytes.subarray(at + 5, at + 5 + bytes.readUInt16BE(at + 3)));
  }
  return Buffer.concat(fragments);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function vec16(...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([u16(body.length), body]);
}

function extension(type: number, data: Buffer): Buffer {
  return Buffer.concat([u16(type), vec16(data)]);
}

function serverNameExtension(...entries: [type: number, name: Buffer | string][]): Buffer {
  return extension(
    0,
    vec16(
      ...entries.map(([type, name]) =>
        Buffer.concat([Buffer.of(type), vec16(Buffer.from(name as string, 'latin1'))]),
      ),
    ),
  );
}

function alpnExtension(...protocols: string[]): Buffer {
  return extension(
    16,
    vec16(...protocols.map((p) => Buffer.concat([Buffer.of(p.length), Buffer.from(p, 'latin1')]))),
  );
}

interface HelloParts {
  version?: number;
  sessionId?: Buffer;
  suites?: Buffer;
  compression?: Buffer;
  /** Raw extensions block, length prefix included; undefined for none. */
  extensionsBlock?: Buffer;
  extensions?: Buffer[];
}

/** A ClientHello body, built field by field so tests can break one at a time. */
function helloBody(parts: HelloParts = {}): Buffer {
  const fields = [
    u16(parts.version ?? 0x0303),
    Buffer.alloc(32, 0xab),
    Buffer.of((parts.sessionId ?? Buffer.alloc(32, 7)).length),
    parts.sessionId ?? Buffer.alloc(32, 7),
    parts.suites ?? vec16(u16(0x1301), u16(0xc02f)),
    parts.compression ?? Buffer.of(1, 0),
  ];
  if (parts.extensionsBlock !== undefined) fields.push(parts.extensionsBlock);
  else if (parts.extensions !== undefined) fields.push(vec16(...parts.extensions));
  return Buffer.concat(fields);
}

function handshake(body: Buffer, type = 1): Buffer {
  const header = Buffer.alloc(4);
  header[0] = type;
  header.writeUIntBE(body.length, 1, 3);
  return Buffer.concat([header, body]);
}

/** A one-record hello with the given extensions. */
function hello(...extensions: Buffer[]): Buffer {
  return records([handshake(helloBody({ extensions }))]);
}

function done(serverName: string | undefined, alpn?: string[]): SniResult {
  return alpn === undefined ? { kind: 'done', serverName } : { kind: 'done', serverName, alpn };
}

// === fixtures: real ClientHellos from node:tls ===

interface Fixture {
  readonly name: string;
  readonly bytes: Buffer;
  readonly expected: SniResult;
  readonly maxBytes?: number;
}

const fixtures: Fixture[] = [];
const real: Record<string, Buffer> = {};

beforeAll(async () => {
  const cases: [string, ConnectionOptions, SniResult, number?][] = [
    ['TLS 1.3', { servername: NAME, ALPNProtocols: ALPN, minVersion: 'TLSv1.3' }, done(NAME, ALPN)],
    ['TLS 1.2', { servername: NAME, ALPNProtocols: ALPN, maxVersion: 'TLSv1.2' }, done(NAME, ALPN)],
    ['TLS 1.3, no SNI', { ALPNProtocols: ALPN, minVersion: 'TLSv1.3' }, done(undefined, ALPN)],
    ['TLS 1.2, no SNI, no ALPN', { maxVersion: 'TLSv1.2' }, done(undefined)],
    [
      'TLS 1.3, upper-case name',
      { servername: 'DB-2.Db.Example.COM' },
      done('db-2.db.example.com'),
    ],
    [
      'large (two records)',
      { servername: NAME, ALPNProtocols: MANY_PROTOCOLS },
      done(NAME, MANY_PROTOCOLS),
      LARGE_MAX_BYTES,
    ],
  ];
  for (const [name, options, expected, maxBytes] of cases) {
    const bytes = await captureClientHello(options);
    real[name] = bytes;
    fixtures.push(
      maxBytes === undefined ? { name, bytes, expected } : { name, bytes, expected, maxBytes },
    );
  }
});

function fixture(name: string): Buffer {
  const bytes = real[name];
  if (bytes === undefined) throw new Error(`no fixture ${name}`);
  return bytes;
}

// === tests ===

describe('ClientHelloReader on real ClientHellos', () => {
  it('captured what the cases need', () => {
    expect(fixtures).toHaveLength(6);
    const large = fixture('large (two records)');
    expect(large.length).toBeGreaterThan(DEFAULT_MAX_CLIENT_HELLO_BYTES);
    // OpenSSL fragments a hello longer than one record: two record headers.
    expect(large.readUInt16BE(3)).toBe(16_384);
    expect(helloEnd(large)).toBe(large.length);
    expect(fixture('TLS 1.2')[0]).toBe(22);
  });

  it('reads each whole, split at every byte, and one byte at a time', () => {
    for (const { name, bytes, expected, maxBytes } of fixtures) {
      const options = maxBytes === undefined ? {} : { maxBytes };
      const whole = new ClientHelloReader(options);
      expect(whole.push(bytes), name).toEqual(expected);
      expect(whole.buffered().equals(bytes), name).toBe(true);

      for (let cut = 0; cut <= bytes.length; cut++) {
        const reader = new ClientHelloReader(options);
        const first = reader.push(bytes.subarray(0, cut));
        if (cut < bytes.length) expect(first.kind, `${name} cut ${cut}`).toBe('need-more');
        const result = cut < bytes.length ? reader.push(bytes.subarray(cut)) : first;
        if (result.kind !== 'done' || !reader.buffered().equals(bytes)) {
          expect({ cut, result, buffered: reader.buffered().equals(bytes) }, name).toEqual({
            cut,
            result: expected,
            buffered: true,
          });
        }
      }

      const reader = new ClientHelloReader(options);
      const chunks = bytewise(bytes);
      chunks.forEach((chunk, i) => {
        const result = reader.push(chunk);
        if (i < chunks.length - 1 && result.kind !== 'need-more') {
          expect({ i, result }, name).toEqual({ i, result: { kind: 'need-more' } });
        }
        if (i === chunks.length - 1) expect(result, name).toEqual(expected);
      });
      expect(reader.buffered().equals(bytes), name).toBe(true);
    }
  });

  it('keeps the first chunk rather than copying it', () => {
    const bytes = fixture('TLS 1.3');
    const reader = new ClientHelloReader();
    reader.push(bytes);
    expect(reader.buffered().buffer).toBe(bytes.buffer);
    expect(reader.buffered().byteOffset).toBe(bytes.byteOffset);
  });

  it('keeps bytes after the hello, in the same chunk and in later pushes', () => {
    const bytes = fixture('TLS 1.3');
    // A middlebox-compatibility ChangeCipherSpec, then early application data.
    const ccs = Buffer.from('140303000101', 'hex');
    const early = Buffer.from('1703030005aabbccddee', 'hex');
    const reader = new ClientHelloReader();
    expect(reader.push(bytes.subarray(0, 100))).toEqual({ kind: 'need-more' });
    expect(reader.push(Buffer.concat([bytes.subarray(100), ccs]))).toEqual(done(NAME, ALPN));
    expect(reader.push(early)).toEqual(done(NAME, ALPN));
    expect(reader.push(Buffer.alloc(0))).toEqual(done(NAME, ALPN));
    expect(reader.buffered().equals(Buffer.concat([bytes, ccs, early]))).toBe(true);
  });

  it('reassembles a real hello split into two records at every position', () => {
    for (const name of ['TLS 1.3', 'TLS 1.2']) {
      const message = handshakeOf(fixture(name));
      const expected = done(NAME, ALPN);
      for (let cut = 1; cut < message.length; cut++) {
        const bytes = records(splitAt(message, cut));
        const reader = new ClientHelloReader();
        const result = reader.push(bytes);
        if (result.kind !== 'done')
          expect({ name, cut, result }).toEqual({ name, cut, result: expected });
      }
      // And one handshake byte per record, fed one stream byte at a time.
      const tiny = records(bytewise(message));
      const reader = new ClientHelloReader({ maxBytes: tiny.length });
      expect(feed(bytewise(tiny), reader)).toEqual(expected);
      expect(reader.buffered().equals(tiny)).toBe(true);
      expect(new ClientHelloReader({ maxBytes: tiny.length - 1 }).push(tiny)).toEqual({
        kind: 'error',
        reason: OVERSIZED_REASON,
      });
    }
  });

  it('says oversized as soon as the handshake length is read', () => {
    const large = fixture('large (two records)');
    const reader = new ClientHelloReader();
    expect(reader.push(large.subarray(0, 8))).toEqual({ kind: 'need-more' });
    expect(reader.push(large.subarray(8, 9))).toEqual({ kind: 'error', reason: OVERSIZED_REASON });
    const small = fixture('TLS 1.2');
    expect(new ClientHelloReader({ maxBytes: small.length }).push(small).kind).toBe('done');
    expect(new ClientHelloReader({ maxBytes: small.length - 1 }).push(small)).toEqual({
      kind: 'error',
      reason: OVERSIZED_REASON,
    });
    expect(new ClientHelloReader({ maxBytes: 100 }).push(small.subarray(0, 9))).toEqual({
      kind: 'error',
      reason: OVERSIZED_REASON,
    });
  });

  it('never gives a name for a prefix of a real hello', () => {
    const bytes = fixture('TLS 1.3');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bytes.length - 1 }), fc.nat(), (end, cut) => {
        const prefix = bytes.subarray(0, end);
        const reader = new ClientHelloReader();
        const result = feed(splitAt(prefix, cut % (end + 1)), reader);
        expect(result).toEqual({ kind: 'need-more' });
        expect(reader.buffered().equals(prefix)).toBe(true);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('never gives a wrong name for a real hello cut short with its lengths fixed up', () => {
    const body = handshakeOf(fixture('TLS 1.3')).subarray(4);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: body.length - 1 }), (end) => {
        const result = new ClientHelloReader().push(records([handshake(body.subarray(0, end))]));
        expect(
          result.kind === 'error' || (result.kind === 'done' && result.serverName === undefined),
        ).toBe(true);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('costs a few microseconds per push of a whole hello', () => {
    const report: string[] = [];
    for (const name of ['TLS 1.3', 'TLS 1.2']) {
      const bytes = fixture(name);
      const rounds = 20_000;
      for (let i = 0; i < 2_000; i++) new ClientHelloReader().push(bytes);
      const started = performance.now();
      for (let i = 0; i < rounds; i++) new ClientHelloReader().push(bytes);
      const perPushUs = ((performance.now() - started) * 1000) / rounds;
      report.push(`${name} (${bytes.length} B): ${perPushUs.toFixed(2)} µs`);
      expect(perPushUs).toBeGreaterThan(0);
    }
    console.log(`ClientHelloReader.push: ${report.join(', ')}`);
  });
});

describe('ClientHelloReader on built ClientHellos', () => {
  it.each<[string, Buffer, SniResult]>([
    ['no extensions (TLS 1.2 may omit them)', records([handshake(helloBody())]), done(undefined)],
    ['empty extensions block', hello(), done(undefined)],
    ['server_name only', hello(serverNameExtension([0, 'a.b'])), done('a.b')],
    ['ALPN only', hello(alpnExtension('h2')), done(undefined, ['h2'])],
    [
      'a 255-byte name',
      hello(serverNameExtension([0, `${'a'.repeat(63)}.`.repeat(3) + 'b'.repeat(63)])),
      done(`${'a'.repeat(63)}.`.repeat(3) + 'b'.repeat(63)),
    ],
    ['underscores and digits', hello(serverNameExtension([0, '_x-1.Host_9'])), done('_x-1.host_9')],
    [
      'an unknown name type skipped',
      hello(serverNameExtension([7, 'whatever'], [0, 'db-3.x'])),
      done('db-3.x'),
    ],
    ['only unknown name types', hello(serverNameExtension([7, 'whatever'])), done(undefined)],
    [
      'other extensions around',
      hello(
        extension(0x0a0a, Buffer.alloc(0)),
        serverNameExtension([0, 'a.b']),
        extension(43, Buffer.of(2, 3, 4)),
        alpnExtension('x'),
      ),
      done('a.b', ['x']),
    ],
    ['record version 0x0303', records([handshake(helloBody())], 0x0303), done(undefined)],
    ['record version 0x0304', records([handshake(helloBody())], 0x0304), done(undefined)],
    [
      'ClientHello version 0x0301',
      records([handshake(helloBody({ version: 0x0301 }))]),
      done(undefined),
    ],
    [
      'empty session_id',
      records([handshake(helloBody({ sessionId: Buffer.alloc(0) }))]),
      done(undefined),
    ],
  ])('%s', (_name, bytes, expected) => {
    expect(new ClientHelloReader().push(bytes)).toEqual(expected);
    expect(feed(bytewise(bytes))).toEqual(expected);
  });

  const notTls: SniResult = { kind: 'error', reason: NOT_TLS_REASON };
  it.each<[string, Buffer]>([
    ['HTTP', Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n')],
    ['a PROXY v1 header', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n')],
    ['an SSLv2-compatible hello', Buffer.from('802e0103010015000000100000030000060000', 'hex')],
    ['an SSL 3.0 record', records([handshake(helloBody())], 0x0300)],
    ['record version 0x0305', records([handshake(helloBody())], 0x0305)],
    ['record version 0x0201', records([handshake(helloBody())], 0x0201)],
    ['an alert record', Buffer.from('15030100020228', 'hex')],
    ['a ServerHello', records([handshake(helloBody(), 2)])],
  ])('%s is not a TLS ClientHello, at the first byte that shows it', (_name, bytes) => {
    expect(new ClientHelloReader().push(bytes)).toEqual(notTls);
    const reader = new ClientHelloReader();
    const results = bytewise(bytes).map((b) => reader.push(b));
    const firstError = results.findIndex((r) => r.kind === 'error');
    expect(results[firstError]).toEqual(notTls);
    expect(firstError).toBeLessThanOrEqual(5);
    // Final: later pushes return the same error and the bytes are still kept.
    expect(results.at(-1)).toEqual(notTls);
    expect(reader.buffered().equals(bytes)).toBe(true);
  });

  const longLabel = 'a'.repeat(64);
  const message = handshake(helloBody({ extensions: [serverNameExtension([0, 'a.b'])] }));
  it.each<[string, Buffer, string]>([
    [
      'an empty handshake record',
      Buffer.concat([records([Buffer.alloc(0)]), records([message])]),
      'empty handshake fragment',
    ],
    ['a fragment over 2^14', Buffer.from('1603014001', 'hex'), '16385-byte fragment'],
    [
      'an alert inside the hello',
      Buffer.concat([records([message.subarray(0, 10)]), Buffer.from('15030100020228', 'hex')]),
      'content type 21 inside',
    ],
    [
      'a bad version in the second record',
      Buffer.concat([records([message.subarray(0, 10)]), records([message.subarray(10)], 0x0200)]),
      'version major 2',
    ],
    [
      'a bad minor version in the second record',
      Buffer.concat([records([message.subarray(0, 10)]), records([message.subarray(10)], 0x0305)]),
      'version 0x0305',
    ],
    [
      'a body too short to be a ClientHello',
      records([handshake(Buffer.alloc(40))]),
      '40-byte body',
    ],
    [
      'legacy_version 0x0200',
      records([handshake(helloBody({ version: 0x0200 }))]),
      'legacy_version 0x0200',
    ],
    [
      'a 33-byte session_id',
      records([handshake(helloBody({ sessionId: Buffer.alloc(33) }))]),
      '33-byte session_id',
    ],
    [
      'an odd cipher_suites length',
      records([handshake(helloBody({ suites: vec16(Buffer.of(1, 2, 3)) }))]),
      'cipher_suites length 3',
    ],
    [
      'no cipher suites',
      records([handshake(helloBody({ suites: vec16() }))]),
      'cipher_suites length 0',
    ],
    [
      'no compression methods',
      records([handshake(helloBody({ compression: Buffer.of(0), extensions: [] }))]),
      'no compression_methods',
    ],
    [
      'compression methods past the end',
      records([handshake(helloBody({ compression: Buffer.of(9, 0) }))]),
      'compression_methods overrun',
    ],
    [
      'a one-byte extensions length',
      records([handshake(helloBody({ extensionsBlock: Buffer.of(0) }))]),
      'truncated extensions length',
    ],
    [
      'extensions longer than the message',
      records([
        handshake(
          helloBody({ extensionsBlock: Buffer.concat([u16(10), extension(5, Buffer.alloc(2))]) }),
        ),
      ]),
      'extensions length 10, but 6',
    ],
    [
      'extensions shorter than the message',
      records([
        handshake(
          helloBody({ extensionsBlock: Buffer.concat([u16(4), extension(5, Buffer.alloc(2))]) }),
        ),
      ]),
      'extensions length 4, but 6',
    ],
    [
      'a truncated extension header',
      records([handshake(helloBody({ extensionsBlock: vec16(Buffer.of(0, 5, 0)) }))]),
      'truncated extension header',
    ],
    [
      'an extension overrunning the block',
      records([handshake(helloBody({ extensionsBlock: vec16(u16(5), u16(3), Buffer.of(1)) }))]),
      'extension 5 overruns',
    ],
    [
      'two server_name extensions',
      hello(serverNameExtension([0, 'a']), serverNameExtension([0, 'b'])),
      'two server_name extensions',
    ],
    [
      'an empty server_name extension',
      hello(extension(0, Buffer.alloc(0))),
      'server_name list length',
    ],
    ['an empty server_name list', hello(extension(0, vec16())), 'server_name list length'],
    [
      'a server_name list length mismatch',
      hello(extension(0, Buffer.concat([u16(9), Buffer.of(0), vec16(Buffer.from('a'))]))),
      'server_name list length',
    ],
    [
      'a truncated server_name entry',
      hello(extension(0, vec16(Buffer.of(0, 0)))),
      'truncated server_name entry',
    ],
    [
      'a host_name overrunning the list',
      hello(extension(0, vec16(Buffer.of(0, 0, 9), Buffer.from('ab')))),
      'overruns the list',
    ],
    ['two host_names', hello(serverNameExtension([0, 'a'], [0, 'b'])), 'two host_name entries'],
    ['an empty host_name', hello(serverNameExtension([0, ''])), 'invalid host_name (0 bytes)'],
    [
      'a 256-byte host_name',
      hello(serverNameExtension([0, `${'a'.repeat(63)}.`.repeat(4)])),
      'invalid host_name (256 bytes)',
    ],
    ['a 64-byte label', hello(serverNameExtension([0, `${longLabel}.com`])), 'invalid host_name'],
    ['a space', hello(serverNameExtension([0, 'a b.com'])), 'invalid host_name'],
    ['a NUL', hello(serverNameExtension([0, 'a.com\0.evil'])), 'invalid host_name'],
    ['an IPv6 literal', hello(serverNameExtension([0, '::1'])), 'invalid host_name'],
    ['a slash', hello(serverNameExtension([0, 'a/b'])), 'invalid host_name'],
    ['a non-ASCII byte', hello(serverNameExtension([0, 'caf\xe9.com'])), 'invalid host_name'],
    ['an empty label', hello(serverNameExtension([0, 'a..b'])), 'invalid host_name'],
    ['a leading dot', hello(serverNameExtension([0, '.a.b'])), 'invalid host_name'],
    ['a trailing dot', hello(serverNameExtension([0, 'a.b.'])), 'invalid host_name'],
    ['two ALPN extensions', hello(alpnExtension('h2'), alpnExtension('h2')), 'two ALPN extensions'],
    ['an empty ALPN list', hello(extension(16, vec16())), 'ALPN list length'],
    [
      'an ALPN list length mismatch',
      hello(extension(16, Buffer.concat([u16(1), Buffer.of(2), Buffer.from('h2')]))),
      'ALPN list length',
    ],
    ['an empty ALPN name', hello(extension(16, vec16(Buffer.of(0)))), 'empty ALPN protocol name'],
    [
      'an ALPN name overrunning the list',
      hello(extension(16, vec16(Buffer.of(5), Buffer.from('h2')))),
      'ALPN protocol name overruns',
    ],
  ])('rejects %s', (_name, bytes, reason) => {
    const result = new ClientHelloReader().push(bytes);
    expect(result.kind).toBe('error');
    expect(result.kind === 'error' ? result.reason : '').toContain(reason);
    expect(feed(bytewise(bytes))).toEqual(result);
  });

  it('validates maxBytes', () => {
    for (const maxBytes of [0, -1, 1.5, Number.NaN, Infinity]) {
      expect(() => new ClientHelloReader({ maxBytes })).toThrow(OptionRangeError);
    }
    expect(new ClientHelloReader({ maxBytes: 1 }).push(Buffer.of(0x16))).toEqual({
      kind: 'error',
      reason: OVERSIZED_REASON,
    });
  });

  it('starts empty and waits on empty chunks', () => {
    const reader = new ClientHelloReader();
    expect(reader.buffered()).toHaveLength(0);
    expect(reader.push(Buffer.alloc(0))).toEqual({ kind: 'need-more' });
    expect(reader.buffered()).toHaveLength(0);
  });
});

describe('ClientHelloReader on garbage', () => {
  const anyBytes = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));

  /** Push `bytes` in chunks cut at `cuts`, checking it never throws and keeps every byte. */
  function check(bytes: Buffer, cuts: number[]): SniResult {
    const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
    const reader = new ClientHelloReader();
    let result: SniResult = { kind: 'need-more' };
    for (const chunk of splitAt(bytes, ...points)) result = reader.push(chunk);
    expect(reader.buffered().equals(bytes)).toBe(true);
    // However the bytes are split, the outcome is the same.
    expect(result).toEqual(new ClientHelloReader().push(bytes));
    if (result.kind === 'done' && result.serverName !== undefined) {
      expect(result.serverName).toMatch(/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/);
    }
    return result;
  }

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(anyBytes, fc.array(fc.nat(), { maxLength: 4 }), (bytes, cuts) => {
        check(bytes, cuts);
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('never throws on random bytes behind a plausible record and handshake header', () => {
    const prefix = fc
      .tuple(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 0x4010 }),
        fc.integer({ min: 0, max: 400 }),
      )
      .map(([minor, size, body]) => {
        const header = Buffer.from([
          22,
          3,
          minor,
          size >> 8,
          size & 0xff,
          1,
          0,
          body >> 8,
          body & 0xff,
        ]);
        return header;
      });
    fc.assert(
      fc.property(prefix, anyBytes, fc.array(fc.nat(), { maxLength: 4 }), (head, tail, cuts) => {
        check(Buffer.concat([head, tail]), cuts);
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('never throws on a real hello with bytes changed, and reads the name only where it fits', () => {
    const bytes = fixture('TLS 1.3');
    const edit = fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 }));
    fc.assert(
      fc.property(
        fc.array(edit, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 3 }),
        (edits, cuts) => {
          const mutated = Buffer.from(bytes);
          for (const [at, value] of edits) mutated[at] = value;
          check(mutated, cuts);
        },
      ),
      { seed: SEED, numRuns: 1000 },
    );
  });
});
