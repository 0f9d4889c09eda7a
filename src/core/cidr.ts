import { ValueError } from './errors.ts';
/**
 * CIDR blocks and fast address membership, for `--allow`/`--deny` (checked on
 * every accepted connection) and `--proxy-protocol-from`.
 *
 * Every address and block lives in one 128-bit space: IPv4 `a.b.c.d` is the
 * IPv4-mapped IPv6 address `::ffff:a.b.c.d`, and `10.0.0.0/8` is
 * `::ffff:10.0.0.0/104`. So `::ffff:10.1.2.3` (what a dual-stack listener
 * reports for an IPv4 client) matches `10.0.0.0/8`, and any IPv4 address
 * matches `::ffff:0:0/96`, with no special cases at match time.
 *
 * The IP text helpers are exported for the PROXY protocol codec, which needs
 * the same strict parsing and Node-compatible formatting.
 */

/** A parsed CIDR block. Build with {@link parseCidr}; print with {@link formatCidr}. */
export interface Cidr {
  /** 4 or 6, as `net.isIP` reports for {@link address}. */
  readonly family: 4 | 6;
  /** The network address with host bits cleared, in canonical text form. */
  readonly address: string;
  /** 0-32 for IPv4, 0-128 for IPv6. */
  readonly prefixLength: number;
}

/**
 * Parse `10.0.0.0/8`, `2001:db8::/32`, or a bare address (= /32 or /128).
 * Host bits below the prefix are cleared (`10.1.2.3/8` is `10.0.0.0/8`), as
 * iptables and nginx do. Throws a `ValueError` naming the input otherwise.
 */
export function parseCidr(text: string): Cidr {
  const s = text.trim();
  const slash = s.indexOf('/');
  const addressText = slash < 0 ? s : s.slice(0, slash);
  const words = new Int32Array(4);
  const family = parseIp(addressText, words, 0, addressText.length);
  if (family === 0) {
    throw new ValueError(
      `"${text}" is not an IP address or CIDR block (e.g. 10.0.0.0/8, 2001:db8::/32)`,
    );
  }
  const maxPrefix = family === 4 ? 32 : 128;
  let prefixLength = maxPrefix;
  if (slash >= 0) {
    const prefixText = s.slice(slash + 1);
    if (!/^(?:0|[1-9]\d{0,2})$/.test(prefixText) || Number(prefixText) > maxPrefix) {
      throw new ValueError(
        `"${text}": prefix length must be a number from 0 to ${maxPrefix} for an IPv${family} address`,
      );
    }
    prefixLength = Number(prefixText);
  }
  applyMask(words, family === 4 ? prefixLength + 96 : prefixLength);
  const address =
    family === 4 ? formatIPv4(words[3] ?? 0) : formatIPv6(words[0], words[1], words[2], words[3]);
  return { family, address, prefixLength };
}

/** `address/prefixLength`, e.g. `10.0.0.0/8`. */
export function formatCidr(cidr: Cidr): string {
  return `${cidr.address}/${cidr.prefixLength}`;
}

/**
 * A fixed set of CIDR blocks with a fast {@link has}. The blocks are
 * precomputed into typed arrays of masks and networks, so a check parses the
 * address once (without allocating) and then costs one 32-bit compare per
 * block for IPv4 and up to four for IPv6.
 */
export class CidrSet {
  /** The blocks, in the order given. */
  readonly cidrs: readonly Cidr[];
  /** `[mask, network]` pairs over the low 32 bits, for blocks that can hold IPv4 addresses. */
  readonly #v4: Int32Array;
  /** `[m0, m1, m2, m3, n0, n1, n2, n3]` per block that can hold non-IPv4 addresses. */
  readonly #v6: Int32Array;

  constructor(cidrs: readonly Cidr[]) {
    this.cidrs = [...cidrs];
    const v4: number[] = [];
    const v6: number[] = [];
    const net = new Int32Array(4);
    const mask = new Int32Array(4);
    for (const cidr of cidrs) {
      // Re-parse rather than trust hand-built objects: this runs once, at startup.
      const parsed = parseCidr(formatCidr(cidr));
      parseIp(parsed.address, net, 0, parsed.address.length);
      const prefix128 = parsed.family === 4 ? parsed.prefixLength + 96 : parsed.prefixLength;
      mask.fill(-1);
      applyMask(mask, prefix128);
      // Does the block hold any IPv4 address, i.e. overlap ::ffff:0:0/96?
      const holdsV4 = net[0] === 0 && net[1] === 0 && (0xffff & (mask[2] ?? 0)) === net[2];
      if (holdsV4) v4.push(mask[3] ?? 0, net[3] ?? 0);
      // A block inside ::ffff:0:0/96 holds only IPv4 addresses, which `has` never checks against #v6.
      if (!(holdsV4 && prefix128 >= 96)) v6.push(...mask, ...net);
    }
    this.#v4 = Int32Array.from(v4);
    this.#v6 = Int32Array.from(v6);
  }

  /** How many blocks the set holds. */
  get size(): number {
    return this.cidrs.length;
  }

  /**
   * Whether `address` (as `socket.remoteAddress` reports it: IPv4, IPv6, or
   * IPv4-mapped IPv6, optionally with a `%zone`) is in any block. Text that
   * is not an IP address is in no block.
   */
  has(address: string): boolean {
    const words = scratchWords;
    let end = address.length;
    const zone = address.indexOf('%');
    if (zone >= 0) end = zone;
    if (parseIp(address, words, 0, end) === 0) return false;
    if (words[0] === 0 && words[1] === 0 && words[2] === 0xffff) {
      const w3 = words[3] ?? 0;
      const v4 = this.#v4;
      for (let i = 0; i < v4.length; i += 2) {
        if ((w3 & (v4[i] ?? 0)) === v4[i + 1]) return true;
      }
      return false;
    }
    const w0 = words[0] ?? 0;
    const w1 = words[1] ?? 0;
    const w2 = words[2] ?? 0;
    const w3 = words[3] ?? 0;
    const v6 = this.#v6;
    for (let i = 0; i < v6.length; i += 8) {
      if (
        (w0 & (v6[i] ?? 0)) === v6[i + 4] &&
        (w1 & (v6[i + 1] ?? 0)) === v6[i + 5] &&
        (w2 & (v6[i + 2] ?? 0)) === v6[i + 6] &&
        (w3 & (v6[i + 3] ?? 0)) === v6[i + 7]
      ) {
        return true;
      }
    }
    return false;
  }
}

// Reused by `has` so that a check allocates nothing; safe because it is
// filled and read synchronously.
const scratchWords = new Int32Array(4);
const scratchGroups = new Uint16Array(8);

/** Clear every bit of the 128-bit `words` after the first `prefix128`. */
function applyMask(words: Int32Array, prefix128: number): void {
  for (let i = 0; i < 4; i++) {
    const keep = prefix128 - i * 32;
    if (keep >= 32) continue;
    words[i] = keep <= 0 ? 0 : (words[i] ?? 0) & (-1 << (32 - keep));
  }
}

/**
 * Parse the IP address in `text[start, end)` into four big-endian 32-bit
 * words (int32 values) of its IPv6 form, IPv4 as `::ffff:a.b.c.d`. Returns
 * the family, or 0 (leaving `out` unspecified) if it is not an address.
 */
export function parseIp(text: string, out: Int32Array, start: number, end: number): 0 | 4 | 6 {
  for (let i = start; i < end; i++) {
    if (text.charCodeAt(i) === 0x3a /* : */) return parseIPv6(text, out, start, end) ? 6 : 0;
  }
  const v4 = parseIPv4(text, start, end);
  if (v4 < 0) return 0;
  out[0] = 0;
  out[1] = 0;
  out[2] = 0xffff;
  out[3] = v4 | 0;
  return 4;
}

/**
 * Parse a dotted-quad IPv4 address in `text[start, end)` to an unsigned
 * 32-bit number, or -1. Strict: exactly four decimal parts 0-255 and no
 * leading zeros (which some parsers read as octal).
 */
export function parseIPv4(text: string, start = 0, end = text.length): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e /* . */) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + part;
      dots++;
      part = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && part === 0) return -1;
      part = part * 10 + (c - 0x30);
      if (part > 255) return -1;
      digits++;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + part;
}

/**
 * Parse an IPv6 address in `text[start, end)` (RFC 4291 text: hex groups of
 * 1-4 digits, at most one `::`, optionally ending in a dotted quad; no zone)
 * into four big-endian 32-bit words. Returns false if it is not one.
 */
export function parseIPv6(text: string, out: Int32Array, start: number, end: number): boolean {
  const groups = scratchGroups;
  groups.fill(0);
  let n = 0;
  let gap = -1;
  let i = start;
  if (end - start < 2) return false;
  if (text.charCodeAt(i) === 0x3a) {
    if (text.charCodeAt(i + 1) !== 0x3a) return false;
    gap = 0;
    i += 2;
  }
  while (i < end) {
    let j = i;
    let value = 0;
    while (j < end) {
      const d = hexValue(text.charCodeAt(j));
      if (d < 0) break;
      if (j - i === 4) return false;
      value = value * 16 + d;
      j++;
    }
    if (j < end && text.charCodeAt(j) === 0x2e /* . */) {
      // Embedded IPv4 (`::ffff:1.2.3.4`): only as the last 32 bits.
      if (n > 6) return false;
      const v4 = parseIPv4(text, i, end);
      if (v4 < 0) return false;
      groups[n++] = v4 >>> 16;
      groups[n++] = v4 & 0xffff;
      i = end;
      break;
    }
    if (j === i || n === 8) return false;
    groups[n++] = value;
    if (j === end) break;
    if (text.charCodeAt(j) !== 0x3a) return false;
    j++;
    if (j < end && text.charCodeAt(j) === 0x3a) {
      if (gap >= 0) return false;
      gap = n;
      j++;
    } else if (j === end) {
      return false;
    }
    i = j;
  }
  if (gap < 0) {
    if (n !== 8) return false;
  } else {
    if (n > 7) return false;
    const tail = n - gap;
    for (let k = 1; k <= tail; k++) {
      groups[8 - k] = groups[n - k] ?? 0;
      groups[n - k] = 0;
    }
  }
  for (let k = 0; k < 4; k++) {
    out[k] = ((groups[2 * k] ?? 0) << 16) | (groups[2 * k + 1] ?? 0);
  }
  return true;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** Dotted-quad text of an unsigned (or int32) 32-bit IPv4 address. */
export function formatIPv4(value: number): string {
  return `${(value >>> 24) & 0xff}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

/**
 * Canonical text of the IPv6 address with the given big-endian 32-bit words,
 * exactly as Node prints addresses (libuv's `inet_ntop`): lowercase, the
 * longest run of two or more zero groups as `::`, and a dotted quad for
 * IPv4-mapped (`::ffff:1.2.3.4`) and IPv4-compatible (`::1.2.3.4`) addresses.
 */
export function formatIPv6(
  w0: number | undefined,
  w1: number | undefined,
  w2: number | undefined,
  w3: number | undefined,
): string {
  const g = scratchGroups;
  g[0] = (w0 ?? 0) >>> 16;
  g[1] = w0 ?? 0;
  g[2] = (w1 ?? 0) >>> 16;
  g[3] = w1 ?? 0;
  g[4] = (w2 ?? 0) >>> 16;
  g[5] = w2 ?? 0;
  g[6] = (w3 ?? 0) >>> 16;
  g[7] = w3 ?? 0;
  let bestBase = -1;
  let bestLen = 0;
  let runBase = -1;
  for (let i = 0; i <= 8; i++) {
    if (i < 8 && g[i] === 0) {
      if (runBase < 0) runBase = i;
    } else if (runBase >= 0) {
      if (i - runBase > bestLen) {
        bestBase = runBase;
        bestLen = i - runBase;
      }
      runBase = -1;
    }
  }
  // RFC 5952: a single zero group is not shortened.
  if (bestLen < 2) bestBase = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase >= 0 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && g[5] === 0xffff))) {
      return out + formatIPv4(w3 ?? 0);
    }
    out += (g[i] ?? 0).toString(16);
  }
  if (bestBase >= 0 && bestBase + bestLen === 8) out += ':';
  return out;
}
