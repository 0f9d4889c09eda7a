/**
 * Incremental PROXY protocol decoder for the accepting side.
 */
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../core/cidr.ts';
import {
  V1_MAX_BYTES,
  V1_PREFIX,
  V2_FIXED_BYTES,
  V2_SIGNATURE,
  type ProxyHeader,
  type ReadResult,
} from './header.ts';
import { OptionRangeError } from '../core/errors.ts';

/**
 * Default bound on the v2 length field (address block plus TLVs). Real
 * senders use a few dozen bytes, TLVs such as AWS's VPC endpoint id
 * included; a bound keeps a peer from making a connection buffer up to
 * 64 KiB before it is rejected.
 */
export const DEFAULT_MAX_V2_LENGTH_BYTES = 4096;

export interface ProxyHeaderReaderOptions {
  /** Largest accepted v2 length field (bytes after the 16-byte fixed part). Default 4096. */
  readonly maxV2LengthBytes?: number;
}

type NeedMore = Extract<ReadResult, { kind: 'need-more' }>;
type Failure = Extract<ReadResult, { kind: 'error' }>;

/** A complete header, before `rest` is cut from the chunk. */
interface Parsed {
  readonly kind: 'parsed';
  readonly header: ProxyHeader;
  /** Header bytes, from the first signature byte through the CRLF or last TLV. */
  readonly length: number;
}

type Outcome = NeedMore | Failure | Parsed;

const NEED_MORE: NeedMore = Object.freeze({ kind: 'need-more' });
const NOT_PROXY: Failure = Object.freeze({ kind: 'error', reason: 'not a PROXY protocol header' });
const ALREADY_DONE: Failure = Object.freeze({
  kind: 'error',
  reason: 'the PROXY header was already read',
});

const CR = 0x0d;
const LF = 0x0a;
const PP2_TYPE_AUTHORITY = 0x02;
const PORT = /^(?:0|[1-9]\d{0,4})$/;

/**
 * Reads one PROXY header, v1 or v2 (told apart by the first byte), from the
 * chunks a socket delivers, however they are split.
 *
 * Allocation: when a chunk holds the whole header (the usual case, since
 * senders write it at once) nothing is copied and `rest` is a view of that
 * chunk. Only a header split across chunks is copied, into one buffer sized
 * for it (at most two allocations for v2: the fixed part, then the whole).
 * Garbage is rejected at the first byte that cannot start or continue a
 * header; nothing here throws.
 *
 * Policy where the spec leaves a choice:
 * - v1 `UNKNOWN` (with or without addresses), v2 LOCAL (any family) and v2
 *   PROXY with a family Headway does not carry (UNSPEC, UDP, UNIX) all give
 *   `{ command: 'local' }`: use the real connection's addresses.
 * - v2 family/protocol bytes the spec does not define are errors with PROXY.
 * - v2 TLVs must exactly fill the length; only `PP2_TYPE_AUTHORITY` is read,
 *   and only with TCP4/TCP6. CRC32C is not checked.
 * - v1 lines must be printable ASCII; IPv6 addresses may use any RFC 4291
 *   text form (as `inet_pton` accepts) and are reported canonically.
 *
 * The reader does not time out: the caller should close a connection whose
 * header does not arrive within a few seconds (the spec suggests at least 3).
 */
export class ProxyHeaderReader {
  readonly #maxV2Length: number;
  /** Copy of the header bytes so far, when the header spans chunks. */
  #buffer: Buffer | undefined;
  /** Bytes of `#buffer` in use. */
  #length = 0;
  /** Total bytes the parser wants before it can make progress. */
  #need = 0;
  /** v1: bytes already checked for CRLF and bad characters. */
  #scanned = 0;
  #result: ReadResult | undefined;

  constructor(options: ProxyHeaderReaderOptions = {}) {
    const max = options.maxV2LengthBytes ?? DEFAULT_MAX_V2_LENGTH_BYTES;
    if (!Number.isInteger(max) || max < 0 || max > 0xffff) {
      throw new OptionRangeError(`maxV2LengthBytes must be an integer 0-65535, got ${max}`);
    }
    this.#maxV2Length = max;
  }

  /**
   * Feed the next chunk. After `done` or `error` the reader is finished:
   * further pushes return an error, and later chunks belong to the caller.
   */
  push(chunk: Buffer): ReadResult {
    if (this.#result !== undefined) {
      return this.#result.kind === 'error' ? this.#result : ALREADY_DONE;
    }
    if (this.#length === 0) {
      const outcome = this.#parse(chunk, chunk.length);
      if (outcome.kind === 'need-more') {
        if (chunk.length > 0) {
          this.#buffer = Buffer.allocUnsafe(this.#need);
          chunk.copy(this.#buffer, 0);
          this.#length = chunk.length;
        }
        return NEED_MORE;
      }
      return this.#finish(outcome, chunk, 0);
    }
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(this.#need - this.#length, chunk.length - offset);
      const buffer = this.#reserve(this.#length + take);
      chunk.copy(buffer, this.#length, offset, offset + take);
      this.#length += take;
      offset += take;
      const outcome = this.#parse(buffer, this.#length);
      // `buffer[0]` sits at `offset - #length` in this chunk (negative: an earlier chunk).
      if (outcome.kind !== 'need-more') return this.#finish(outcome, chunk, offset - this.#length);
    }
    return NEED_MORE;
  }

  #finish(outcome: Failure | Parsed, chunk: Buffer, chunkStart: number): ReadResult {
    this.#buffer = undefined;
    this.#length = 0;
    const result: ReadResult =
      outcome.kind === 'parsed'
        ? {
            kind: 'done',
            header: outcome.header,
            rest: chunk.subarray(chunkStart + outcome.length),
          }
        : outcome;
    this.#result = result;
    return result;
  }

  #reserve(size: number): Buffer {
    const old = this.#buffer;
    if (old !== undefined && old.length >= size) return old;
    const grown = Buffer.allocUnsafe(size);
    if (old !== undefined) old.copy(grown, 0, 0, this.#length);
    this.#buffer = grown;
    return grown;
  }

  /** Parse `buf[0, end)`; on need-more, sets `#need`. */
  #parse(buf: Buffer, end: number): Outcome {
    if (end === 0) {
      this.#need = 1;
      return NEED_MORE;
    }
    if (buf[0] === V1_PREFIX[0]) return this.#parseV1(buf, end);
    if (buf[0] === V2_SIGNATURE[0]) return this.#parseV2(buf, end);
    return NOT_PROXY;
  }

  #parseV1(buf: Buffer, end: number): Outcome {
    const prefixEnd = Math.min(end, V1_PREFIX.length);
    for (let i = 1; i < prefixEnd; i++) if (buf[i] !== V1_PREFIX[i]) return NOT_PROXY;
    const scanEnd = Math.min(end, V1_MAX_BYTES);
    for (let i = Math.max(this.#scanned, V1_PREFIX.length); i < scanEnd; i++) {
      const c = buf[i] ?? 0;
      if (buf[i - 1] === CR) {
        if (c !== LF) return error('v1: CR not followed by LF');
        return parseV1Line(buf, i + 1);
      }
      if (c === LF) return error('v1: LF without CR');
      if (c !== CR && (c < 0x20 || c > 0x7e)) return error('v1: not printable ASCII');
    }
    this.#scanned = scanEnd;
    if (end >= V1_MAX_BYTES) return error(`v1: no CRLF within ${V1_MAX_BYTES} bytes`);
    this.#need = V1_MAX_BYTES;
    return NEED_MORE;
  }

  #parseV2(buf: Buffer, end: number): Outcome {
    const signatureEnd = Math.min(end, V2_SIGNATURE.length);
    for (let i = 1; i < signatureEnd; i++) if (buf[i] !== V2_SIGNATURE[i]) return NOT_PROXY;
    // Check each fixed byte as soon as it arrives, so garbage fails fast.
    if (end > 12) {
      const versionCommand = buf[12] ?? 0;
      if (versionCommand >> 4 !== 2) return error(`v2: unsupported version ${versionCommand >> 4}`);
      if ((versionCommand & 0x0f) > 1) return error(`v2: unknown command ${versionCommand & 0x0f}`);
    }
    const proxy = buf[12] === 0x21;
    const family = buf[13] ?? 0;
    if (end > 13 && proxy && !KNOWN_FAMILIES.has(family)) {
      return error(`v2: unknown address family/protocol 0x${hex(family)}`);
    }
    if (end < V2_FIXED_BYTES) {
      this.#need = V2_FIXED_BYTES;
      return NEED_MORE;
    }
    const length = buf.readUInt16BE(14);
    if (length > this.#maxV2Length) {
      return error(`v2: oversized header (${length} bytes > ${this.#maxV2Length})`);
    }
    const addressBytes = proxy ? addressBlockBytes(family) : 0;
    if (length < addressBytes) {
      return error(`v2: ${length}-byte address block is too short for family 0x${hex(family)}`);
    }
    const total = V2_FIXED_BYTES + length;
    if (end < total) {
      this.#need = total;
      return NEED_MORE;
    }
    if (!proxy || (family !== 0x11 && family !== 0x21)) {
      return { kind: 'parsed', header: { command: 'local', version: 2 }, length: total };
    }
    return parseV2Proxy(buf, family, total);
  }
}

const KNOWN_FAMILIES: ReadonlySet<number> = new Set([0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32]);

function addressBlockBytes(family: number): number {
  switch (family >> 4) {
    case 1:
      return 12;
    case 2:
      return 36;
    case 3:
      return 216;
    default:
      return 0;
  }
}

function parseV2Proxy(buf: Buffer, family: number, total: number): Outcome {
  const tcp4 = family === 0x11;
  const at = V2_FIXED_BYTES;
  const portsAt = tcp4 ? at + 8 : at + 32;
  let authority: string | undefined;
  let tlv = portsAt + 4;
  while (tlv < total) {
    if (tlv + 3 > total) return error('v2: truncated TLV');
    const type = buf[tlv];
    const valueLength = buf.readUInt16BE(tlv + 1);
    const valueEnd = tlv + 3 + valueLength;
    if (valueEnd > total) return error('v2: truncated TLV');
    if (type === PP2_TYPE_AUTHORITY && valueLength > 0) {
      authority = buf.toString('utf8', tlv + 3, valueEnd);
    }
    tlv = valueEnd;
  }
  const header: ProxyHeader = {
    command: 'proxy',
    version: 2,
    family: tcp4 ? 'tcp4' : 'tcp6',
    sourceAddress: tcp4
      ? formatIPv4(buf.readUInt32BE(at))
      : formatIPv6(
          buf.readInt32BE(at),
          buf.readInt32BE(at + 4),
          buf.readInt32BE(at + 8),
          buf.readInt32BE(at + 12),
        ),
    sourcePort: buf.readUInt16BE(portsAt),
    destAddress: tcp4
      ? formatIPv4(buf.readUInt32BE(at + 4))
      : formatIPv6(
          buf.readInt32BE(at + 16),
          buf.readInt32BE(at + 20),
          buf.readInt32BE(at + 24),
          buf.readInt32BE(at + 28),
        ),
    destPort: buf.readUInt16BE(portsAt + 2),
    ...(authority === undefined ? {} : { authority }),
  };
  return { kind: 'parsed', header, length: total };
}

const words = new Int32Array(4);

/** Parse a complete v1 line `buf[0, length)`, CRLF included and already checked. */
function parseV1Line(buf: Buffer, length: number): Outcome {
  // Printable ASCII only (checked while scanning), so latin1 is exact and cheap.
  const line = buf.toString('latin1', V1_PREFIX.length, length - 2);
  if (line === 'UNKNOWN' || line.startsWith('UNKNOWN ')) {
    return { kind: 'parsed', header: { command: 'local', version: 1 }, length };
  }
  const fields = line.split(' ');
  if (fields.length !== 5) {
    return error('v1: expected "TCP4|TCP6 SRC DST SRCPORT DSTPORT" or "UNKNOWN"');
  }
  const [protocol = '', source = '', dest = '', sourcePort = '', destPort = ''] = fields;
  let sourceAddress: string;
  let destAddress: string;
  if (protocol === 'TCP4') {
    if (parseIPv4(source) < 0) return error(`v1: ${JSON.stringify(source)} is not an IPv4 address`);
    if (parseIPv4(dest) < 0) return error(`v1: ${JSON.stringify(dest)} is not an IPv4 address`);
    // A strict dotted quad is already canonical.
    sourceAddress = source;
    destAddress = dest;
  } else if (protocol === 'TCP6') {
    if (!parseIPv6(source, words, 0, source.length)) {
      return error(`v1: ${JSON.stringify(source)} is not an IPv6 address`);
    }
    sourceAddress = formatIPv6(words[0], words[1], words[2], words[3]);
    if (!parseIPv6(dest, words, 0, dest.length)) {
      return error(`v1: ${JSON.stringify(dest)} is not an IPv6 address`);
    }
    destAddress = formatIPv6(words[0], words[1], words[2], words[3]);
  } else {
    return error(`v1: unknown protocol ${JSON.stringify(protocol)}`);
  }
  const sport = parsePort(sourcePort);
  if (sport < 0) return error(`v1: ${JSON.stringify(sourcePort)} is not a port`);
  const dport = parsePort(destPort);
  if (dport < 0) return error(`v1: ${JSON.stringify(destPort)} is not a port`);
  return {
    kind: 'parsed',
    header: {
      command: 'proxy',
      version: 1,
      family: protocol === 'TCP4' ? 'tcp4' : 'tcp6',
      sourceAddress,
      sourcePort: sport,
      destAddress,
      destPort: dport,
    },
    length,
  };
}

function parsePort(text: string): number {
  if (!PORT.test(text)) return -1;
  const port = Number(text);
  return port > 65535 ? -1 : port;
}

function error(reason: string): Failure {
  return { kind: 'error', reason };
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}
