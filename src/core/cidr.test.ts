import { BlockList, SocketAddress, isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CidrSet,
  formatCidr,
  formatIPv6,
  parseCidr,
  parseIp,
  parseIPv4,
  parseIPv6,
} from './cidr.ts';

const SEED = 20_240_602;

function set(...texts: string[]): CidrSet {
  return new CidrSet(texts.map(parseCidr));
}

/** Node's own canonical form of an IPv6 address (inet_ntop). */
function nodeIPv6(address: string): string {
  return new SocketAddress({ address, family: 'ipv6' }).address;
}

function words(text: string): number[] | undefined {
  const out = new Int32Array(4);
  return parseIp(text, out, 0, text.length) === 0 ? undefined : Array.from(out, (w) => w >>> 0);
}

describe('parseCidr', () => {
  it.each([
    ['10.0.0.0/8', 4, '10.0.0.0', 8],
    ['10.1.2.3/8', 4, '10.0.0.0', 8],
    ['192.168.1.77/27', 4, '192.168.1.64', 27],
    ['0.0.0.0/0', 4, '0.0.0.0', 0],
    ['1.2.3.4', 4, '1.2.3.4', 32],
    ['1.2.3.4/32', 4, '1.2.3.4', 32],
    [' 172.16.0.0/12 ', 4, '172.16.0.0', 12],
    ['2001:db8::/32', 6, '2001:db8::', 32],
    ['2001:DB8:ffff::1/32', 6, '2001:db8::', 32],
    ['::/0', 6, '::', 0],
    ['::1', 6, '::1', 128],
    ['fe80::/10', 6, 'fe80::', 10],
    ['::ffff:0:0/96', 6, '::ffff:0.0.0.0', 96],
    ['::ffff:10.0.0.0/104', 6, '::ffff:10.0.0.0', 104],
    ['2001:db8::1/127', 6, '2001:db8::', 127],
  ])('%j → IPv%d %s/%d', (text, family, address, prefixLength) => {
    expect(parseCidr(text)).toEqual({ family, address, prefixLength });
  });

  it.each([
    ['', /is not an IP address or CIDR block/],
    ['nope', /"nope" is not an IP address or CIDR block/],
    ['10.0.0/8', /is not an IP address/],
    ['10.0.0.0.0/8', /is not an IP address/],
    ['010.0.0.0/8', /is not an IP address/],
    ['256.0.0.0/8', /is not an IP address/],
    ['10.0.0.0/33', /"10.0.0.0\/33": prefix length must be a number from 0 to 32 for an IPv4/],
    ['10.0.0.0/', /prefix length must be/],
    ['10.0.0.0/08', /prefix length must be/],
    ['10.0.0.0/-1', /prefix length must be/],
    ['10.0.0.0/8/8', /prefix length must be/],
    ['10.0.0.0/ 8', /prefix length must be/],
    ['::/129', /from 0 to 128 for an IPv6/],
    ['2001:db8::/x', /prefix length must be/],
    ['fe80::1%eth0', /is not an IP address/],
    ['1:2:3:4:5:6:7:8:9', /is not an IP address/],
    ['/8', /is not an IP address/],
  ])('refuses %j', (text, message) => {
    expect(() => parseCidr(text)).toThrow(message);
  });

  it('prints what it parses', () => {
    expect(formatCidr(parseCidr('10.1.2.3/8'))).toBe('10.0.0.0/8');
    expect(formatCidr(parseCidr('2001:0DB8:0000::/48'))).toBe('2001:db8::/48');
    expect(formatCidr(parseCidr('::1'))).toBe('::1/128');
  });
});

describe('IP text', () => {
  it.each([
    ['0.0.0.0', 0],
    ['255.255.255.255', 0xffffffff],
    ['10.1.2.3', 0x0a010203],
    ['1.0.0.0', 0x01000000],
  ])('parseIPv4(%j) = %d', (text, value) => {
    expect(parseIPv4(text)).toBe(value);
  });

  it.each(['', '1', '1.2.3', '1.2.3.4.', '.1.2.3', '1..2.3', '01.2.3.4', '1.2.3.00', '1.2.3.256'])(
    'parseIPv4 refuses %j',
    (text) => {
      expect(parseIPv4(text)).toBe(-1);
    },
  );

  it.each([
    ['::', [0, 0, 0, 0]],
    ['::1', [0, 0, 0, 1]],
    ['1::', [0x10000, 0, 0, 0]],
    ['1:2:3:4:5:6:7:8', [0x10002, 0x30004, 0x50006, 0x70008]],
    ['1:2:3:4:5:6:7::', [0x10002, 0x30004, 0x50006, 0x70000]],
    ['::2:3:4:5:6:7:8', [0x2, 0x30004, 0x50006, 0x70008]],
    ['1:2::7:8', [0x10002, 0, 0, 0x70008]],
    ['FFFF::ABCD', [0xffff0000, 0, 0, 0xabcd]],
    ['::ffff:1.2.3.4', [0, 0, 0xffff, 0x01020304]],
    ['1:2:3:4:5:6:1.2.3.4', [0x10002, 0x30004, 0x50006, 0x01020304]],
    ['10.1.2.3', [0, 0, 0xffff, 0x0a010203]],
  ])('parseIp(%j) = %j', (text, expected) => {
    expect(words(text)).toEqual(expected);
  });

  it.each([
    ':',
    ':::',
    '1:',
    ':1',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7:8::',
    '::1:2:3:4:5:6:7:8',
    '12345::',
    'g::',
    '::1.2.3',
    '::1.2.3.4:5',
    '1:2:3:4:5:6:7:1.2.3.4',
    '::01.2.3.4',
    'fe80::1%eth0',
    '1 ::',
  ])('parseIp refuses %j', (text) => {
    expect(words(text)).toBeUndefined();
  });

  it('agrees with node:net on what is an IPv6 address', () => {
    const out = new Int32Array(4);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.ipV6(),
          fc.stringMatching(/^[0-9a-fA-F:.]{0,45}$/),
          fc.string({ unit: fc.constantFrom('0', '1', 'f', ':', '.', '255', 'ffff', '::') }),
        ),
        (text) => {
          const ours = parseIPv6(text, out, 0, text.length);
          expect(ours).toBe(isIP(text) === 6);
        },
      ),
      { seed: SEED, numRuns: 3000 },
    );
  });

  it.each([
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['1:2:3:4:5:6:7:0', '1:2:3:4:5:6:7:0'],
    ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    ['::ffff:0:0', '::ffff:0.0.0.0'],
    ['::1.2.3.4', '::1.2.3.4'],
    ['::1:2', '::0.1.0.2'],
    ['::2', '::2'],
  ])('formatIPv6(%j) = %j, as Node prints it', (text, expected) => {
    const [w0, w1, w2, w3] = words(text) ?? [];
    expect(formatIPv6(w0, w1, w2, w3)).toBe(expected);
    expect(nodeIPv6(text)).toBe(expected);
  });

  it('formats any IPv6 address exactly as Node does', () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const [w0, w1, w2, w3] = words(text) ?? [];
        expect(formatIPv6(w0, w1, w2, w3)).toBe(nodeIPv6(text));
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });
});

describe('CidrSet', () => {
  it('matches IPv4 blocks', () => {
    const s = set('10.0.0.0/8', '192.168.1.64/27');
    expect(s.has('10.0.0.0')).toBe(true);
    expect(s.has('10.255.255.255')).toBe(true);
    expect(s.has('11.0.0.0')).toBe(false);
    expect(s.has('9.255.255.255')).toBe(false);
    expect(s.has('192.168.1.64')).toBe(true);
    expect(s.has('192.168.1.95')).toBe(true);
    expect(s.has('192.168.1.96')).toBe(false);
    expect(s.has('192.168.1.63')).toBe(false);
    expect(s.has('::1')).toBe(false);
  });

  it('matches IPv4-mapped IPv6 addresses against IPv4 blocks', () => {
    const s = set('10.0.0.0/8');
    expect(s.has('::ffff:10.1.2.3')).toBe(true);
    expect(s.has('::FFFF:10.1.2.3')).toBe(true);
    expect(s.has('::ffff:a01:203')).toBe(true);
    expect(s.has('0:0:0:0:0:ffff:10.1.2.3')).toBe(true);
    expect(s.has('::ffff:11.1.2.3')).toBe(false);
    // IPv4-compatible (deprecated) addresses are not IPv4.
    expect(s.has('::10.1.2.3')).toBe(false);
  });

  it('matches IPv4 addresses against IPv4-mapped blocks', () => {
    const all = set('::ffff:0:0/96');
    expect(all.has('1.2.3.4')).toBe(true);
    expect(all.has('::ffff:1.2.3.4')).toBe(true);
    expect(all.has('::1')).toBe(false);
    const ten = set('::ffff:10.0.0.0/104');
    expect(ten.has('10.9.9.9')).toBe(true);
    expect(ten.has('11.9.9.9')).toBe(false);
  });

  it('matches IPv4 against IPv6 blocks wider than ::ffff:0:0/96', () => {
    expect(set('::/0').has('1.2.3.4')).toBe(true);
    expect(set('::/80').has('1.2.3.4')).toBe(true);
    expect(set('::/81').has('1.2.3.4')).toBe(false);
    expect(set('::ffff:0:0/95').has('1.2.3.4')).toBe(true);
    expect(set('2001:db8::/32').has('1.2.3.4')).toBe(false);
  });

  it('matches IPv6 blocks', () => {
    const s = set('2001:db8::/32', 'fe80::/10', '::1');
    expect(s.has('2001:db8::1')).toBe(true);
    expect(s.has('2001:db8:ffff:ffff:ffff:ffff:ffff:ffff')).toBe(true);
    expect(s.has('2001:db9::')).toBe(false);
    expect(s.has('febf::1')).toBe(true);
    expect(s.has('fec0::1')).toBe(false);
    expect(s.has('::1')).toBe(true);
    expect(s.has('::2')).toBe(false);
    expect(s.has('fe80::1%eth0')).toBe(true);
    expect(s.has('127.0.0.1')).toBe(false);
  });

  it('0.0.0.0/0 is every IPv4 address and no IPv6 one', () => {
    const s = set('0.0.0.0/0');
    expect(s.has('0.0.0.0')).toBe(true);
    expect(s.has('255.255.255.255')).toBe(true);
    expect(s.has('::ffff:255.255.255.255')).toBe(true);
    expect(s.has('::')).toBe(false);
    expect(s.has('2001:db8::1')).toBe(false);
  });

  it('holds nothing when empty, and nothing that is not an address', () => {
    expect(set().has('1.2.3.4')).toBe(false);
    expect(set().size).toBe(0);
    const s = set('0.0.0.0/0', '::/0');
    expect(s.size).toBe(2);
    for (const junk of ['', 'localhost', '1.2.3', '::g', '01.2.3.4', '%eth0']) {
      expect(s.has(junk)).toBe(false);
    }
  });

  it('validates hand-built blocks', () => {
    expect(() => new CidrSet([{ family: 4, address: '10.0.0.0', prefixLength: 40 }])).toThrow(
      /prefix length/,
    );
    expect(new CidrSet([{ family: 4, address: '10.1.2.3', prefixLength: 8 }]).has('10.9.9.9')).toBe(
      true,
    );
  });

  it('an address is in its own /32 or /128, and in no other single-address block', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.oneof(fc.ipV4(), fc.ipV6()), (a, b) => {
        const own = set(a);
        expect(own.has(a)).toBe(true);
        const sameAddress = JSON.stringify(words(a)) === JSON.stringify(words(b));
        expect(own.has(b)).toBe(sameAddress);
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('an IPv4 address and its mapped form match the same blocks', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), fc.ipV4(), (a, prefix, probe) => {
        const v4 = set(`${a}/${prefix}`);
        const mapped = set(`::ffff:${a}/${prefix + 96}`);
        for (const s of [v4, mapped]) {
          expect(s.has(probe)).toBe(s.has(`::ffff:${probe}`));
          expect(s.has(a)).toBe(true);
          expect(s.has(`::ffff:${a}`)).toBe(true);
        }
        expect(v4.has(probe)).toBe(mapped.has(probe));
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('a block contains every narrower block around the same address', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 }), fc.integer({ min: 0, max: 32 })),
          fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 }), fc.integer({ min: 0, max: 128 })),
        ),
        ([address, p, q]) => {
          const wide = parseCidr(`${address}/${Math.min(p, q)}`);
          const narrow = parseCidr(`${address}/${Math.max(p, q)}`);
          const s = new CidrSet([wide]);
          expect(s.has(address)).toBe(true);
          expect(s.has(narrow.address)).toBe(true);
          expect(new CidrSet([narrow]).has(wide.address)).toBe(wide.address === narrow.address);
        },
      ),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('agrees with node:net BlockList on random blocks and addresses', () => {
    const addresses = fc.oneof(
      fc.ipV4(),
      fc.ipV6(),
      fc.ipV4().map((a) => `::ffff:${a}`),
      // Near a block: share its first bits more often than random addresses do.
      fc.constantFrom('10.0.0.1', '10.255.0.1', '::ffff:10.0.0.1', '2001:db8::1', '::1'),
    );
    const blocks = fc.oneof(
      fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([a, p]) => `${a}/${p}`),
      fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })).map(([a, p]) => `${a}/${p}`),
      fc.constantFrom('10.0.0.0/8', '::ffff:0:0/96', '::/0', '2001:db8::/32', '0.0.0.0/0'),
    );
    fc.assert(
      fc.property(
        fc.array(blocks, { maxLength: 6 }),
        fc.array(addresses, { maxLength: 8 }),
        (bs, as) => {
          const cidrs = bs.map(parseCidr);
          const ours = new CidrSet(cidrs);
          const theirs = new BlockList();
          for (const c of cidrs) {
            theirs.addSubnet(c.address, c.prefixLength, c.family === 4 ? 'ipv4' : 'ipv6');
          }
          for (const a of as) {
            const family = isIP(a) === 4 ? 'ipv4' : 'ipv6';
            expect(ours.has(a), `${a} in ${bs.join(', ')}`).toBe(theirs.check(a, family));
          }
        },
      ),
      { seed: SEED, numRuns: 1000 },
    );
  });
});
