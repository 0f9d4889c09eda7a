import { OptionRangeError } from '../core/errors.ts';
/**
 * Reads the server name (SNI) and ALPN list from a TLS ClientHello without
 * terminating TLS, as NGINX's `ssl_preread` does, so a TCP connection can be
 * routed by name and then passed through untouched.
 *
 * Sources: RFC 8446 §4.1.2 (ClientHello) and §5.1 (record layer), RFC 5246
 * §7.4.1.2 (extensions may be absent before TLS 1.3), RFC 6066 §3
 * (server_name), RFC 7301 §3.1 (ALPN).
 */

/** What {@link ClientHelloReader.push} returns. */
export type SniResult =
  | { readonly kind: 'need-more' }
  | {
      readonly kind: 'done';
      /** The host_name, lowercased; undefined when the client sent no server_name. */
      readonly serverName: string | undefined;
      /** Protocols offered in the ALPN extension, in the client's order; absent without one. */
      readonly alpn?: string[];
    }
  | { readonly kind: 'error'; readonly reason: string };

/** The `reason` for input that is not a TLS handshake starting with a ClientHello. */
export const NOT_TLS_REASON = 'not a TLS ClientHello';
/** The `reason` when the ClientHello cannot end within `maxBytes` bytes of the stream. */
export const OVERSIZED_REASON = 'oversized';

/**
 * Default bound on the bytes a ClientHello may take, record headers
 * included. Real ones are 250 bytes (TLS 1.2) to about 1.6 KiB (TLS 1.3
 * with an X25519MLKEM768 key share, as Node 24 on OpenSSL 3.5 sends); one
 * full record is 16 KiB. The bound is what a peer can make a connection
 * hold before it is routed or rejected.
 */
export const DEFAULT_MAX_CLIENT_HELLO_BYTES = 16 * 1024;

export interface ClientHelloReaderOptions {
  /** Most bytes the ClientHello may take, record headers included. Default 16 KiB. */
  readonly maxBytes?: number;
}

type Failure = Extract<SniResult, { kind: 'error' }>;
type Done = Extract<SniResult, { kind: 'done' }>;

const NEED_MORE: SniResult = Object.freeze({ kind: 'need-more' });
const NOT_TLS: Failure = Object.freeze({ kind: 'error', reason: NOT_TLS_REASON });
const OVERSIZED: Failure = Object.freeze({ kind: 'error', reason: OVERSIZED_REASON });

const CONTENT_TYPE_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const RECORD_HEADER_BYTES = 5;
/** msg_type and a 24-bit length. */
const HANDSHAKE_HEADER_BYTES = 4;
/** RFC 8446 §5.1: a plaintext fragment is at most 2^14 bytes. */
const MAX_FRAGMENT_BYTES = 16_384;
/** legacy_version, random, empty session_id, one cipher suite, one compression method. */
const MIN_CLIENT_HELLO_BODY_BYTES = 2 + 32 + 1 + 2 + 2 + 1 + 1;
const MAX_SESSION_ID_BYTES = 32;
const EXTENSION_SERVER_NAME = 0;
const EXTENSION_ALPN = 16;
const NAME_TYPE_HOST_NAME = 0;
const MAX_HOST_NAME_BYTES = 255;
const MAX_LABEL_BYTES = 63;
const EMPTY = Buffer.alloc(0);

/**
 * Reads one TLS ClientHello from the chunks a socket delivers, however they
 * are split, and keeps every byte so the caller can forward it all to the
 * chosen backend (see {@link ClientHelloReader.buffered}).
 *
 * Accepted: handshake records (content type 22) with record versions
 * 0x0301–0x0304, carrying a ClientHello (handshake type 1) that may span
 * several records. The first byte that cannot start a TLS handshake (HTTP
 * text, an SSLv2-compatible hello, a PROXY header) gives `not a TLS
 * ClientHello` at once; a ClientHello that cannot end within `maxBytes`
 * gives `oversized` as soon as its length says so. Lengths must nest
 * exactly; a server_name must be one DNS-style host name (letters, digits,
 * `-`, `_`, non-empty labels of at most 63 bytes, 255 bytes in all, no
 * trailing dot). Nothing here throws.
 *
 * Allocation: a ClientHello that arrives in one chunk is parsed in place and
 * the chunk is kept, not copied. Otherwise the chunks are copied into one
 * growing buffer, and a ClientHello spread over records is joined once.
 * Pushed chunks are kept by reference: the caller must not reuse them.
 *
 * Limits: the reader sees only what the client sends first, so it cannot
 * route protocols that negotiate TLS after plaintext (PostgreSQL's
 * SSLRequest unless the client uses direct TLS, STARTTLS). With Encrypted
 * Client Hello the name read is the outer, public one. It does not time out:
 * the caller should close a connection whose ClientHello does not arrive
 * within a few seconds.
 */
export class ClientHelloReader {
  readonly #maxBytes: number;
  /** Every byte pushed so far: `#bytes[0, #length)`. */
  #bytes: Buffer = EMPTY;
  #length = 0;
  /** Whether `#bytes` was allocated here; otherwise it is the caller's first chunk. */
  #owned = false;
  /** Stream offset of the next record header (just past the last record read). */
  #nextRecord = 0;
  /** `[start, end)` stream offsets of each record payload read so far, flattened. */
  readonly #fragments: number[] = [];
  /** Handshake bytes the records read so far carry, arrived or not. */
  #declared = 0;
  /** Handshake bytes wanted: the header until its length is read, then the whole message. */
  #messageBytes = HANDSHAKE_HEADER_BYTES;
  #typeChecked = false;
  #lengthRead = false;
  #result: SniResult | undefined;

  constructor(options: ClientHelloReaderOptions = {}) {
    const max = options.maxBytes ?? DEFAULT_MAX_CLIENT_HELLO_BYTES;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new OptionRangeError(`maxBytes must be a positive integer, got ${max}`);
    }
    this.#maxBytes = max;
  }

  /**
   * Feed the next chunk. After `done` or `error` the result is final: later
   * pushes return it again (and their bytes are still kept, so
   * {@link buffered} stays the whole stream).
   */
  push(chunk: Buffer): SniResult {
    this.#append(chunk);
    if (this.#result !== undefined) return this.#result;
    const result = this.#advance();
    if (result.kind !== 'need-more') {
      this.#result = result;
      this.#fragments.length = 0;
    }
    return result;
  }

  /**
   * Every byte pushed so far, in order: what to write to the backend once
   * routed. A view of the reader's storage; it does not grow with later pushes.
   */
  buffered(): Buffer {
    return this.#bytes.subarray(0, this.#length);
  }

  #append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.#length === 0) {
      this.#bytes = chunk;
      this.#length = chunk.length;
      return;
    }
    const size = this.#length + chunk.length;
    if (!this.#owned || this.#bytes.length < size) {
      const grown = Buffer.allocUnsafe(Math.max(size, 2 * this.#length));
      this.#bytes.copy(grown, 0, 0, this.#length);
      this.#bytes = grown;
      this.#owned = true;
    }
    this.#bytes.set(chunk, this.#length);
    this.#length = size;
  }

  #advance(): SniResult {
    const bytes = this.#bytes;
    const length = this.#length;
    for (;;) {
      const failure = this.#readMessageHeader();
      if (failure !== undefined) return failure;
      if (this.#declared >= this.#messageBytes) break;
      const at = this.#nextRecord;
      const available = length - at;
      if (available <= 0) break;
      // Check each header byte as it arrives, so that garbage fails fast.
      if (bytes[at] !== CONTENT_TYPE_HANDSHAKE) {
        return at === 0
          ? NOT_TLS
          : recordError(at, `content type ${bytes[at] ?? 0} inside the ClientHello`);
      }
      if (available > 1 && bytes[at + 1] !== 3) {
        return at === 0 ? NOT_TLS : recordError(at, `version major ${bytes[at + 1] ?? 0}`);
      }
      if (available > 2 && !isTlsMinor(bytes[at + 2])) {
        return at === 0 ? NOT_TLS : recordError(at, `version 0x03${hex(bytes[at + 2])}`);
      }
      if (available < RECORD_HEADER_BYTES) break;
      const fragment = bytes.readUInt16BE(at + 3);
      if (fragment === 0) return recordError(at, 'empty handshake fragment');
      if (fragment > MAX_FRAGMENT_BYTES) {
        return recordError(at, `${fragment}-byte fragment (at most ${MAX_FRAGMENT_BYTES})`);
      }
      const start = at + RECORD_HEADER_BYTES;
      this.#fragments.push(start, start + fragment);
      this.#declared += fragment;
      this.#nextRecord = start + fragment;
    }
    return this.#complete();
  }

  /** Check the handshake type, then read the length, once their bytes have arrived. */
  #readMessageHeader(): Failure | undefined {
    if (this.#lengthRead) return undefined;
    // Only the last record read can be incomplete.
    const arrived = this.#declared - Math.max(0, this.#nextRecord - this.#length);
    if (arrived >= 1 && !this.#typeChecked) {
      if (this.#messageByte(0) !== HANDSHAKE_CLIENT_HELLO) return NOT_TLS;
      this.#typeChecked = true;
    }
    if (arrived < HANDSHAKE_HEADER_BYTES) return undefined;
    const body = (this.#messageByte(1) << 16) | (this.#messageByte(2) << 8) | this.#messageByte(3);
    if (body < MIN_CLIENT_HELLO_BODY_BYTES) {
      return helloError(`${body}-byte body (at least ${MIN_CLIENT_HELLO_BODY_BYTES})`);
    }
    this.#messageBytes = HANDSHAKE_HEADER_BYTES + body;
    this.#lengthRead = true;
    return undefined;
  }

  #complete(): SniResult {
    const missing = this.#messageBytes - this.#declared;
    if (missing > 0) {
      // Another record, header and all, must follow the last one read.
      const least = this.#nextRecord + RECORD_HEADER_BYTES + missing;
      return least > this.#maxBytes ? OVERSIZED : NEED_MORE;
    }
    const end = this.#offsetOf(this.#messageBytes - 1) + 1;
    if (end > this.#maxBytes) return OVERSIZED;
    // Until the length is read, `#messageBytes` is the header, which has not all arrived.
    if (end > this.#length || !this.#lengthRead) return NEED_MORE;
    const fragments = this.#fragments;
    const first = fragments[0] ?? 0;
    if ((fragments[1] ?? 0) - first >= this.#messageBytes) {
      return parseClientHello(
        this.#bytes,
        first + HANDSHAKE_HEADER_BYTES,
        first + this.#messageBytes,
      );
    }
    const message = Buffer.allocUnsafe(this.#messageBytes);
    let filled = 0;
    for (let i = 0; i < fragments.length && filled < message.length; i += 2) {
      const start = fragments[i] ?? 0;
      const stop = Math.min(fragments[i + 1] ?? 0, start + message.length - filled);
      this.#bytes.copy(message, filled, start, stop);
      filled += stop - start;
    }
    return parseClientHello(message, HANDSHAKE_HEADER_BYTES, message.length);
  }

  /** Stream offset of handshake byte `index`, which the records read so far must carry. */
  #offsetOf(index: number): number {
    const fragments = this.#fragments;
    let rest = index;
    for (let i = 0; i < fragments.length; i += 2) {
      const start = fragments[i] ?? 0;
      const size = (fragments[i + 1] ?? 0) - start;
      if (rest < size) return start + rest;
      rest -= size;
    }
    return Number.MAX_SAFE_INTEGER;
  }

  #messageByte(index: number): number {
    return this.#bytes[this.#offsetOf(index)] ?? 0;
  }
}

/** Parse a whole ClientHello body, `b[start, end)`. */
function parseClientHello(b: Buffer, start: number, end: number): SniResult {
  // The fixed part (version, random, session_id length) is within MIN_CLIENT_HELLO_BODY_BYTES.
  if (b[start] !== 3 || !isTlsMinor(b[start + 1])) {
    return helloError(`legacy_version 0x${hex(b[start])}${hex(b[start + 1])}`);
  }
  let p = start + 34;
  const sessionId = b[p] ?? 0;
  if (sessionId > MAX_SESSION_ID_BYTES) return helloError(`${sessionId}-byte session_id`);
  p += 1 + sessionId;
  if (p + 2 > end) return helloError('truncated before cipher_suites');
  const suites = b.readUInt16BE(p);
  if (suites === 0 || suites % 2 !== 0) return helloError(`cipher_suites length ${suites}`);
  p += 2 + suites;
  if (p + 1 > end) return helloError('truncated before compression_methods');
  const methods = b[p] ?? 0;
  if (methods === 0) return helloError('no compression_methods');
  p += 1 + methods;
  if (p > end) return helloError('compression_methods overrun the message');
  if (p === end) return { kind: 'done', serverName: undefined };
  if (p + 2 > end) return helloError('truncated extensions length');
  const extensions = b.readUInt16BE(p);
  p += 2;
  if (p + extensions !== end) {
    return helloError(`extensions length ${extensions}, but ${end - p} bytes remain`);
  }
  let serverName: string | undefined;
  let sawServerName = false;
  let alpn: string[] | undefined;
  while (p < end) {
    if (p + 4 > end) return helloError('truncated extension header');
    const type = b.readUInt16BE(p);
    const size = b.readUInt16BE(p + 2);
    p += 4;
    if (p + size > end) return helloError(`extension ${type} overruns the extensions`);
    if (type === EXTENSION_SERVER_NAME) {
      if (sawServerName) return helloError('two server_name extensions');
      sawServerName = true;
      const name = parseServerName(b, p, p + size);
      if (typeof name === 'object') return name;
      serverName = name;
    } else if (type === EXTENSION_ALPN) {
      if (alpn !== undefined) return helloError('two ALPN extensions');
      const protocols = parseAlpn(b, p, p + size);
      if (!Array.isArray(protocols)) return protocols;
      alpn = protocols;
    }
    p += size;
  }
  const done: Done =
    alpn === undefined ? { kind: 'done', serverName } : { kind: 'done', serverName, alpn };
  return done;
}

/** RFC 6066 ServerNameList in `b[start, end)`: the host_name, or undefined if none. */
function parseServerName(b: Buffer, start: number, end: number): string | undefined | Failure {
  if (start + 2 > end || start + 2 + b.readUInt16BE(start) !== end || start + 2 === end) {
    return helloError('server_name list length does not match the extension');
  }
  let name: string | undefined;
  let p = start + 2;
  while (p < end) {
    if (p + 3 > end) return helloError('truncated server_name entry');
    const type = b[p] ?? 0;
    const size = b.readUInt16BE(p + 1);
    p += 3;
    if (p + size > end) return helloError('server_name entry overruns the list');
    // Unknown name types are skipped: RFC 6066 makes every one start with a 16-bit length.
    if (type === NAME_TYPE_HOST_NAME) {
      if (name !== undefined) return helloError('two host_name entries');
      name = hostName(b, p, p + size);
      if (name === undefined) return helloError(`invalid host_name (${size} bytes)`);
    }
    p += size;
  }
  return name;
}

/** `b[start, end)` lowercased, if it is a host name; see {@link ClientHelloReader}. */
function hostName(b: Buffer, start: number, end: number): string | undefined {
  if (end === start || end - start > MAX_HOST_NAME_BYTES) return undefined;
  let label = 0;
  for (let i = start; i < end; i++) {
    const c = b[i] ?? 0;
    if (c === 0x2e) {
      if (label === 0) return undefined;
      label = 0;
      continue;
    }
    const letter = (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
    const digit = c >= 0x30 && c <= 0x39;
    if (!letter && !digit && c !== 0x2d && c !== 0x5f) return undefined;
    if (++label > MAX_LABEL_BYTES) return undefined;
  }
  if (label === 0) return undefined;
  // ASCII only (checked above), so latin1 is exact and cheap.
  return b.toString('latin1', start, end).toLowerCase();
}

/** RFC 7301 ProtocolNameList in `b[start, end)`; each name as latin1 (one char per byte). */
function parseAlpn(b: Buffer, start: number, end: number): string[] | Failure {
  if (start + 2 > end || start + 2 + b.readUInt16BE(start) !== end || start + 2 === end) {
    return helloError('ALPN list length does not match the extension');
  }
  const protocols: string[] = [];
  let p = start + 2;
  while (p < end) {
    const size = b[p] ?? 0;
    p += 1;
    if (size === 0) return helloError('empty ALPN protocol name');
    if (p + size > end) return helloError('ALPN protocol name overruns the list');
    protocols.push(b.toString('latin1', p, p + size));
    p += size;
  }
  return protocols;
}

function isTlsMinor(minor: number | undefined): boolean {
  return minor !== undefined && minor >= 1 && minor <= 4;
}

function recordError(offset: number, problem: string): Failure {
  return { kind: 'error', reason: `malformed TLS record at byte ${offset}: ${problem}` };
}

function helloError(problem: string): Failure {
  return { kind: 'error', reason: `malformed ClientHello: ${problem}` };
}

function hex(byte: number | undefined): string {
  return (byte ?? 0).toString(16).padStart(2, '0');
}
