/**
 * A small RESP2 codec: commands go out as arrays of bulk strings; replies
 * (simple strings, errors, integers, bulk strings, arrays) are parsed
 * incrementally from whatever chunks the socket delivers. Sentinel replies are
 * small, so the parser keeps unparsed bytes in a bounded buffer and refuses
 * (throws RespProtocolError) a peer that sends more than that without
 * completing a reply, or nests arrays absurdly deep.
 */

import { HeadwayError } from '../../core/errors.ts';

/** An error reply (`-ERR ...`): a value, not an exception — the command failed, the stream is fine. */
export class RespErrorReply {
  readonly message: string;

  constructor(message: string) {
    this.message = message;
  }
}

/** A bulk or simple string is text (Sentinel answers are ASCII); null is a null bulk/array. */
export type RespValue = string | number | null | RespErrorReply | readonly RespValue[];

/** The peer broke the protocol or the limits: the connection must be dropped. */
export class RespProtocolError extends HeadwayError {
  constructor(message: string) {
    super('HW_SENTINEL_PROTOCOL', message);
    this.name = 'RespProtocolError';
  }
}

/** Unparsed bytes allowed before a reply must be complete. */
export const DEFAULT_MAX_BUFFER = 1024 * 1024;
const MAX_DEPTH = 8;
/** Elements of one array (SENTINEL replicas of a large fleet stays far below). */
const MAX_ARRAY = 100_000;

/** `AUTH`, `SENTINEL get-master-addr-by-name M`... as RESP: an array of bulk strings. */
export function encodeCommand(args: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.from(a, 'utf8');
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Marks "not enough bytes yet" inside the recursive parse. */
const INCOMPLETE = Symbol('incomplete');

export class RespParser {
  readonly #maxBuffer: number;
  #buf: Buffer = Buffer.alloc(0);

  constructor(maxBuffer = DEFAULT_MAX_BUFFER) {
    this.#maxBuffer = maxBuffer;
  }

  /** Bytes held that do not yet form a complete reply. */
  get buffered(): number {
    return this.#buf.length;
  }

  /** Feed a chunk; returns every reply it completed, in order. Throws RespProtocolError. */
  push(chunk: Buffer): RespValue[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: RespValue[] = [];
    let pos = 0;
    for (;;) {
      const r = parseAt(this.#buf, pos, 0);
      if (r === INCOMPLETE) break;
      out.push(r.value);
      pos = r.next;
    }
    this.#buf = pos === this.#buf.length ? Buffer.alloc(0) : this.#buf.subarray(pos);
    if (this.#buf.length > this.#maxBuffer) {
      throw new RespProtocolError(`reply larger than ${this.#maxBuffer} bytes`);
    }
    return out;
  }
}

interface Parsed {
  readonly value: RespValue;
  readonly next: number;
}

function readLine(buf: Buffer, pos: number): { line: string; next: number } | typeof INCOMPLETE {
  const end = buf.indexOf('\r\n', pos, 'latin1');
  if (end < 0) return INCOMPLETE;
  return { line: buf.toString('utf8', pos, end), next: end + 2 };
}

function parseLength(text: string, what: string): number {
  if (!/^-?\d{1,10}$/.test(text)) throw new RespProtocolError(`bad ${what} length "${text}"`);
  const n = Number(text);
  if (n < -1) throw new RespProtocolError(`bad ${what} length ${n}`);
  return n;
}

function parseAt(buf: Buffer, pos: number, depth: number): Parsed | typeof INCOMPLETE {
  if (pos >= buf.length) return INCOMPLETE;
  const type = String.fromCharCode(buf[pos] ?? 0);
  const head = readLine(buf, pos + 1);
  if (head === INCOMPLETE) return INCOMPLETE;
  switch (type) {
    case '+':
      return { value: head.line, next: head.next };
    case '-':
      return { value: new RespErrorReply(head.line), next: head.next };
    case ':': {
      if (!/^-?\d{1,19}$/.test(head.line)) {
        throw new RespProtocolError(`bad integer "${head.line}"`);
      }
      return { value: Number(head.line), next: head.next };
    }
    case '$': {
      const len = parseLength(head.line, 'bulk');
      if (len === -1) return { value: null, next: head.next };
      if (buf.length < head.next + len + 2) return INCOMPLETE;
      if (buf[head.next + len] !== 13 || buf[head.next + len + 1] !== 10) {
        throw new RespProtocolError('bulk string not terminated by CRLF');
      }
      return { value: buf.toString('utf8', head.next, head.next + len), next: head.next + len + 2 };
    }
    case '*': {
      const len = parseLength(head.line, 'array');
      if (len === -1) return { value: null, next: head.next };
      if (len > MAX_ARRAY) throw new RespProtocolError(`array of ${len} elements`);
      if (depth >= MAX_DEPTH) throw new RespProtocolError('arrays nested too deep');
      const items: RespValue[] = [];
      let next = head.next;
      for (let i = 0; i < len; i++) {
        const r = parseAt(buf, next, depth + 1);
        if (r === INCOMPLETE) return INCOMPLETE;
        items.push(r.value);
        next = r.next;
      }
      return { value: items, next };
    }
    default:
      throw new RespProtocolError(`unexpected type byte 0x${(buf[pos] ?? 0).toString(16)}`);
  }
}
