/**
 * Writes access-log fields as bytes straight into a Buffer. Every method
 * writes at `pos` and advances it, without checking room: the caller reserves
 * a line's worst case first (see `maxLineBytes` in format.ts), so a write can
 * never run past the end or split a line.
 *
 * Formatting into bytes instead of concatenating strings saves, per line, the
 * string pieces, the line itself and its later UTF-8 conversion: garbage that
 * cost the GC's helper threads several µs per connection (issue #19).
 */
export class LineWriter {
  buf: Buffer;
  pos = 0;

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  /** Room left after `pos`. */
  get free(): number {
    return this.buf.length - this.pos;
  }

  /** Bytes of a constant (see `asciiBytes`). */
  bytes(b: Uint8Array): void {
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < b.length; i++) buf[p++] = b[i] as number;
    this.pos = p;
  }

  /** One ASCII byte. */
  byte(c: number): void {
    this.buf[this.pos++] = c;
  }

  /** A string written as it is (UTF-8): for fixed identifiers that need no escaping. At most 3 bytes a unit. */
  raw(s: string): void {
    const buf = this.buf;
    const start = this.pos;
    let p = start;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.pos = start + buf.write(s, start, 'utf8');
        return;
      }
      buf[p++] = c;
    }
    this.pos = p;
  }

  /**
   * A JSON string with its quotes. Printable ASCII other than `"` and `\` is
   * copied as it is; anything else goes through `JSON.stringify`, which also
   * turns lone surrogates into `\u` escapes and keeps the line valid UTF-8.
   * At most 6 bytes a unit, plus 2.
   */
  jsonString(s: string): void {
    const buf = this.buf;
    const start = this.pos;
    let p = start;
    buf[p++] = QUOTE;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === QUOTE || c === BACKSLASH) {
        this.pos = start + buf.write(JSON.stringify(s), start, 'utf8');
        return;
      }
      buf[p++] = c;
    }
    buf[p++] = QUOTE;
    this.pos = p;
  }

  /**
   * A text-format value: bare when it is not empty, not `-`, and holds only
   * printable ASCII other than space, `"`, `=` and `\`; else a JSON string.
   * At most 6 bytes a unit, plus 2.
   */
  textString(s: string): void {
    const buf = this.buf;
    const start = this.pos;
    if (s.length === 0 || s === '-') {
      this.pos = start + buf.write(JSON.stringify(s), start, 'latin1');
      return;
    }
    let p = start;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c <= 0x20 || c > 0x7e || c === QUOTE || c === BACKSLASH || c === EQUALS) {
        this.pos = start + buf.write(JSON.stringify(s), start, 'utf8');
        return;
      }
      buf[p++] = c;
    }
    this.pos = p;
  }

  /** A number rounded to an integer, or `null` when not finite. At most NUMBER_MAX_BYTES. */
  int(n: number): void {
    if (!Number.isFinite(n)) {
      this.bytes(NULL);
      return;
    }
    const v = Math.round(n);
    // -0 passes too, and is written as 0 like String(-0).
    if (v >= 0 && v <= Number.MAX_SAFE_INTEGER) this.#digits(v, 1);
    else this.#ascii(String(v));
  }

  /**
   * Milliseconds with exactly three decimals (µs resolution), or `null` when
   * not finite (a broken clock). Written from integer microseconds: converting
   * a float to its shortest string costs about twice as much. At most
   * NUMBER_MAX_BYTES.
   */
  ms(n: number): void {
    if (!Number.isFinite(n)) {
      this.bytes(NULL);
      return;
    }
    const us = Math.round(n * 1000);
    if (us < 0 || us > Number.MAX_SAFE_INTEGER) {
      this.#ascii((us / 1000).toFixed(3));
      return;
    }
    const whole = Math.floor(us / 1000);
    this.#digits(whole, 1);
    this.byte(DOT);
    this.#digits(us - whole * 1000, 3);
  }

  /** `2025-01-02T03:04:05.678Z` for an epoch-ms time. At most NUMBER_MAX_BYTES. */
  isoTime(timeMs: number): void {
    const t = Math.floor(timeMs);
    if (!(t >= 0 && t < YEAR_10000_MS)) {
      this.#ascii(isoTimeOutOfRange(t));
      return;
    }
    const second = Math.floor(t / 1000);
    if (second !== cachedSecond) {
      cachedSecond = second;
      cachedPrefix.set(asciiBytes(new Date(second * 1000).toISOString().slice(0, 20)));
    }
    this.bytes(cachedPrefix);
    this.#digits(t - second * 1000, 3);
    this.byte(0x5a); // Z
  }

  /** A non-negative safe integer in decimal, zero-padded to at least `minDigits`. */
  #digits(v: number, minDigits: number): void {
    let len = minDigits;
    while (len < POWERS_OF_TEN.length && v >= (POWERS_OF_TEN[len] as number)) len++;
    const buf = this.buf;
    let p = this.pos + len;
    this.pos = p;
    // Most values (ports, byte counts, milliseconds) fit 31 bits: integer division is cheaper.
    if (v < 0x80000000) {
      for (let i = 0; i < len; i++) {
        const q = (v / 10) | 0;
        buf[--p] = 0x30 + (v - q * 10);
        v = q;
      }
      return;
    }
    for (let i = 0; i < len; i++) {
      const q = Math.floor(v / 10);
      buf[--p] = 0x30 + (v - q * 10);
      v = q;
    }
  }

  #ascii(s: string): void {
    this.pos += this.buf.write(s, this.pos, 'latin1');
  }
}

/** Most bytes `int`, `ms` and `isoTime` write (`-1.7976931348623157e+308`, `+275760-09-13T00:00:00.000Z`). */
export const NUMBER_MAX_BYTES = 32;

/** Most bytes `jsonString` or `textString` writes for a string of `length` UTF-16 units (`\uXXXX` each). */
export function escapedMaxBytes(length: number): number {
  return 6 * length + 2;
}

/** A constant ASCII string as bytes, for `LineWriter.bytes`. */
export function asciiBytes(s: string): Uint8Array {
  return Uint8Array.from(s, (ch) => ch.charCodeAt(0));
}

/** 10^0 .. 10^15: a safe integer has at most 16 digits. */
const POWERS_OF_TEN = Array.from({ length: 16 }, (_, i) => 10 ** i);

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const EQUALS = 0x3d;
const DOT = 0x2e;
const NULL = asciiBytes('null');

/** Start of the year 10000: past it an ISO date no longer has four digits of year. */
const YEAR_10000_MS = 253402300800000;

// Connections closing within the same second share the formatted date and
// time; only the milliseconds are formatted per line.
let cachedSecond = NaN;
const cachedPrefix = new Uint8Array(20);

function isoTimeOutOfRange(t: number): string {
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? '1970-01-01T00:00:00.000Z' : d.toISOString();
}

/** `isoTime` as a string. */
export function isoTimeString(timeMs: number): string {
  const w = new LineWriter(NUMBER_MAX_BYTES);
  w.isoTime(timeMs);
  return w.buf.toString('latin1', 0, w.pos);
}
