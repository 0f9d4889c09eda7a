import { describe, expect, it } from 'vitest';
import { clientHello } from '../../../test/kit/client-hello.ts';
import { encodeProxyHeader } from '../../proxy-protocol/index.ts';
import { ProxyHeaderPreamble, ServerNamePreamble } from './preamble.ts';

/** Feed `bytes` one byte at a time (the worst split a client can make); true once settled. */
function feedBytewise(p: { push(chunk: Buffer): boolean }, bytes: Buffer): number {
  for (let i = 0; i < bytes.length; i++) if (p.push(bytes.subarray(i, i + 1))) return i + 1;
  return -1;
}

describe('ProxyHeaderPreamble', () => {
  it('settles at the end of a v2 header fed byte by byte; the addresses are the header’s', () => {
    const header = encodeProxyHeader(2, {
      family: 'tcp6',
      sourceAddress: '::ffff:203.0.113.7',
      sourcePort: 5555,
      destAddress: '2001:db8::1',
      destPort: 443,
    });
    const p = new ProxyHeaderPreamble();
    expect(feedBytewise(p, header)).toBe(header.length);
    expect(p.refusal).toBeNull();
    expect(p.early).toBeUndefined();
    // An IPv4-mapped client address is reported as plain IPv4 (what access rules match).
    expect(p.proxied).toEqual({
      clientAddress: '203.0.113.7',
      clientPort: 5555,
      destAddress: '2001:db8::1',
      destPort: 443,
    });
  });

  it('keeps the bytes after the header for the backend, as a copy', () => {
    const read = Buffer.from('PROXY TCP4 10.1.1.1 10.2.2.2 1 2\r\nhello');
    const p = new ProxyHeaderPreamble();
    expect(p.push(read)).toBe(true);
    read.fill(0);
    expect(p.early?.toString()).toBe('hello');
  });

  it('a LOCAL header (a health check of the load balancer) names no client', () => {
    const p = new ProxyHeaderPreamble();
    expect(p.push(encodeProxyHeader(2, undefined))).toBe(true);
    expect(p.refusal).toBeNull();
    expect(p.proxied).toBeUndefined();
  });

  it('refuses what is not a header, with the outcome it reports when none comes', () => {
    const p = new ProxyHeaderPreamble();
    expect(p.push(Buffer.from('GET / HTTP/1.1\r\n'))).toBe(true);
    expect(p.refusal).toBe('proxy_protocol_error');
    expect(p.missing).toBe('proxy_protocol_error');
  });
});

describe('ServerNamePreamble', () => {
  const pattern = '{hostname}.db.example.com';

  it('names the backend and keeps every byte of the hello for it, fed byte by byte', () => {
    const hello = clientHello('DB-2.db.example.com');
    const p = new ServerNamePreamble(pattern, false);
    expect(feedBytewise(p, hello)).toBe(hello.length);
    expect(p.refusal).toBeNull();
    expect(p.target).toBe('db-2');
    expect(p.early).toEqual(hello);
  });

  it.each([
    { strict: false, refusal: null },
    { strict: true, refusal: 'no_backend' },
  ])('a name outside the pattern (strict: $strict) → refusal $refusal', ({ strict, refusal }) => {
    const p = new ServerNamePreamble(pattern, strict);
    expect(p.push(clientHello('www.example.org'))).toBe(true);
    expect(p.target).toBeUndefined();
    expect(p.refusal).toBe(refusal);
  });

  it('rejects bytes that are not TLS', () => {
    const p = new ServerNamePreamble(pattern, false);
    expect(p.push(Buffer.from('SSH-2.0-OpenSSH\r\n'))).toBe(true);
    expect(p.refusal).toBe('rejected');
    expect(p.missing).toBe('rejected');
  });
});
