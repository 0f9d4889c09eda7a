import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OUTCOMES } from '../core/outcome.ts';
import { seededRandom } from '../../test/kit/random.ts';
import { AccessLog } from './access-log.ts';
import { type AccessRecord, type ClosedFirst, ReusableAccessRecord } from './access-record.ts';
import {
  type AccessLogFormat,
  formatJsonLine,
  formatTextLine,
  maxLineBytes,
  writeJsonLine,
  writeTextLine,
} from './format.ts';
import { LineWriter } from './line-writer.ts';
import { FileSink } from './sinks.ts';

// ---------------------------------------------------------------------------
// A reference formatter, written plainly from the documented field rules
// (ACCESS_LOG_FIELDS and the comments of format.ts), sharing no code with it.

function refTime(timeMs: number): string {
  const d = new Date(Math.floor(timeMs));
  return Number.isNaN(d.getTime()) ? '1970-01-01T00:00:00.000Z' : d.toISOString();
}

function refInt(n: number): string {
  return Number.isFinite(n) ? String(Math.round(n)) : 'null';
}

/** Integer microseconds, printed with the decimal point three digits from the right. */
function refMs(n: number): string {
  if (!Number.isFinite(n)) return 'null';
  const us = Math.round(n * 1000);
  if (us < 0 || us > Number.MAX_SAFE_INTEGER) return (us / 1000).toFixed(3);
  const digits = String(us + 0).padStart(4, '0');
  return digits.slice(0, -3) + '.' + digits.slice(-3);
}

function refText(s: string): string {
  const bare = /^[!#-<>-[\]-~]+$/.test(s) && s !== '-';
  return bare ? s : JSON.stringify(s);
}

function refJsonLine(r: AccessRecord): string {
  const str = (s: string | undefined): string => (s === undefined ? 'null' : JSON.stringify(s));
  const num = (n: number | undefined, f: (n: number) => string): string =>
    n === undefined ? 'null' : f(n);
  return (
    `{"time":"${refTime(r.timeMs)}","listener":${str(r.listener)},` +
    `"peerAddress":${str(r.peerAddress)},"peerPort":${refInt(r.peerPort)},` +
    `"clientAddress":${str(r.clientAddress)},"clientPort":${num(r.clientPort, refInt)},` +
    `"backendId":${str(r.backendId)},"backendAddress":${str(r.backendAddress)},` +
    `"bytesFromClient":${refInt(r.bytesFromClient)},"bytesFromBackend":${refInt(r.bytesFromBackend)},` +
    `"durationMs":${refMs(r.durationMs)},"connectMs":${num(r.connectMs, refMs)},` +
    `"firstByteMs":${num(r.firstByteMs, refMs)},"retries":${refInt(r.retries)},` +
    `"outcome":"${r.outcome}","closedFirst":${r.closedFirst === null ? 'null' : `"${r.closedFirst}"`},` +
    `"attempts":${refInt(r.attempts)}}\n`
  );
}

function refTextLine(r: AccessRecord): string {
  const str = (s: string | undefined): string => (s === undefined ? '-' : refText(s));
  const num = (n: number | undefined, f: (n: number) => string): string =>
    n === undefined ? '-' : f(n);
  return (
    `time=${refTime(r.timeMs)} listener=${str(r.listener)} peerAddress=${str(r.peerAddress)} ` +
    `peerPort=${refInt(r.peerPort)} clientAddress=${str(r.clientAddress)} ` +
    `clientPort=${num(r.clientPort, refInt)} backendId=${str(r.backendId)} ` +
    `backendAddress=${str(r.backendAddress)} bytesFromClient=${refInt(r.bytesFromClient)} ` +
    `bytesFromBackend=${refInt(r.bytesFromBackend)} durationMs=${refMs(r.durationMs)} ` +
    `connectMs=${num(r.connectMs, refMs)} firstByteMs=${num(r.firstByteMs, refMs)} ` +
    `retries=${refInt(r.retries)} outcome=${r.outcome} closedFirst=${r.closedFirst ?? '-'} ` +
    `attempts=${refInt(r.attempts)}\n`
  );
}

const REFERENCE: Record<AccessLogFormat, (r: AccessRecord) => string> = {
  json: refJsonLine,
  text: refTextLine,
};

// ---------------------------------------------------------------------------
// Generated records.

/** Pieces strings are made of: every class the escaping rules treat differently. */
const PIECES = [
  'a', 'Z', '0', '9', '.', ':', '[', ']', '~', '!', '#', '<', '>', '/',
  '-', ' ', '=', '"', '\\', '\n', '\t', '\x00', '\x1f', '\x7f',
  'é', 'ÿ', '\u0100', '中', '\u2028', '\ufeff', '😀', '\ud800', '\udfff', '\ud83d',
]; // prettier-ignore

const SPECIAL_STRINGS = ['', '-', ' ', '=', '--', '"', 'null', '-1'];

const NUMBERS = [
  0,
  -0,
  1,
  7,
  0.5,
  1.5,
  -0.5,
  -2.5,
  2.4999,
  65535,
  987654321,
  -1,
  -123.456,
  1e21,
  -1e21,
  1e300,
  -1e300,
  2 ** 53 - 1,
  2 ** 53,
  2 ** 53 + 2,
  Number.MAX_SAFE_INTEGER / 1000,
  4.5e12,
  1.0005,
  0.0005,
  0.0004999,
  999.9995,
  1234.5678,
  Number.MIN_VALUE,
  Number.MAX_VALUE,
  NaN,
  Infinity,
  -Infinity,
];

const TIMES = [
  Date.UTC(2025, 5, 1, 12, 34, 56, 7),
  Date.UTC(2025, 5, 1, 12, 34, 56, 7) + 0.9,
  0,
  -1,
  -62198755200000,
  253402300799999,
  253402300800000,
  8.64e15,
  8.64e15 + 1,
  -8.64e15,
  NaN,
  Infinity,
];

/** Records drawn from a seeded PRNG; about one in 150 carries a string longer than a batch buffer. */
function generateRecords(seed: number, count: number): AccessRecord[] {
  const random = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const str = (): string => {
    const roll = random();
    if (roll < 0.15) return pick(SPECIAL_STRINGS);
    if (roll < 0.45) return `10.${Math.floor(random() * 256)}.0.${Math.floor(random() * 256)}`;
    const long = random() < 0.0015;
    const len = long ? 66_000 + Math.floor(random() * 4000) : Math.floor(random() * 24);
    let s = '';
    while (s.length < len) s += pick(PIECES);
    return s;
  };
  const num = (): number => {
    const roll = random();
    if (roll < 0.4) return pick(NUMBERS);
    if (roll < 0.7) return Math.floor(random() * 1e6);
    return (random() - 0.2) * 10 ** Math.floor(random() * 16);
  };
  const maybe = <T>(f: () => T): T | undefined => (random() < 0.3 ? undefined : f());
  const records: AccessRecord[] = [];
  for (let i = 0; i < count; i++) {
    records.push({
      timeMs: random() < 0.7 ? 1_750_000_000_000 + random() * 5000 : pick(TIMES),
      listener: str(),
      peerAddress: str(),
      peerPort: num(),
      clientAddress: maybe(str),
      clientPort: maybe(num),
      backendId: maybe(str),
      backendAddress: maybe(str),
      bytesFromClient: num(),
      bytesFromBackend: num(),
      durationMs: num(),
      connectMs: maybe(num),
      firstByteMs: maybe(num),
      retries: num(),
      attempts: num(),
      outcome: pick(OUTCOMES),
      closedFirst: pick<ClosedFirst | null>(['client', 'backend', 'proxy', null]),
    });
  }
  return records;
}

const RECORDS = generateRecords(19, 4000);

/** The values a JSON line must parse back to. */
function expectedJson(r: AccessRecord): Record<string, unknown> {
  const int = (n: number | undefined): number | null =>
    n === undefined || !Number.isFinite(n) ? null : Math.round(n) + 0;
  const ms = (n: number | undefined): number | null =>
    n === undefined || !Number.isFinite(n) ? null : Math.round(n * 1000) / 1000 + 0;
  return {
    time: refTime(r.timeMs),
    listener: r.listener,
    peerAddress: r.peerAddress,
    peerPort: int(r.peerPort),
    clientAddress: r.clientAddress ?? null,
    clientPort: int(r.clientPort),
    backendId: r.backendId ?? null,
    backendAddress: r.backendAddress ?? null,
    bytesFromClient: int(r.bytesFromClient),
    bytesFromBackend: int(r.bytesFromBackend),
    durationMs: ms(r.durationMs),
    connectMs: ms(r.connectMs),
    firstByteMs: ms(r.firstByteMs),
    retries: int(r.retries),
    outcome: r.outcome,
    closedFirst: r.closedFirst,
    attempts: int(r.attempts),
  };
}

describe('LineWriter formats', () => {
  it('covers the generator: long strings, lone surrogates, non-finite numbers, absent fields', () => {
    const strings = RECORDS.flatMap((r) => [r.listener, r.peerAddress, r.backendId ?? '']);
    expect(strings.some((s) => s.length > 64 * 1024)).toBe(true);
    expect(strings.some((s) => /[\ud800-\udbff](?![\udc00-\udfff])/.test(s))).toBe(true);
    expect(strings.some((s) => ['\n', '\t', '\x00', '\x1f'].some((c) => s.includes(c)))).toBe(true);
    expect(RECORDS.some((r) => Number.isNaN(r.durationMs))).toBe(true);
    expect(RECORDS.some((r) => r.clientAddress === undefined && r.closedFirst === null)).toBe(true);
  });

  for (const format of ['json', 'text'] as const) {
    it(`writes exactly the reference bytes of every generated record (${format})`, () => {
      const write = format === 'json' ? writeJsonLine : writeTextLine;
      for (const r of RECORDS) {
        // A buffer of exactly the reserved size: a write past the end would be lost and show.
        const w = new LineWriter(maxLineBytes(r));
        write(w, r);
        expect(w.pos).toBeLessThanOrEqual(w.buf.length);
        const got = w.buf.subarray(0, w.pos);
        const want = Buffer.from(REFERENCE[format](r), 'utf8');
        if (!got.equals(want)) expect(got.toString('utf8')).toBe(want.toString('utf8'));
        expect(got.equals(want)).toBe(true);
      }
    });
  }

  it('stays within the reserved bytes for worst-case records (every unit escaped)', () => {
    for (const unit of ['\x01', '\ud800', '\udc00']) {
      const s = unit.repeat(5000);
      const worst: AccessRecord = {
        timeMs: 8.64e15,
        listener: s,
        peerAddress: s,
        peerPort: -Number.MAX_VALUE,
        clientAddress: s,
        clientPort: -Number.MAX_VALUE,
        backendId: s,
        backendAddress: s,
        bytesFromClient: -Number.MAX_VALUE,
        bytesFromBackend: -Number.MAX_VALUE,
        durationMs: -1e20,
        connectMs: -1e20,
        firstByteMs: -1e20,
        retries: -Number.MAX_VALUE,
        attempts: -Number.MAX_VALUE,
        outcome: 'connect_timeout',
        closedFirst: 'backend',
      };
      for (const format of ['json', 'text'] as const) {
        const w = new LineWriter(maxLineBytes(worst));
        (format === 'json' ? writeJsonLine : writeTextLine)(w, worst);
        const want = Buffer.from(REFERENCE[format](worst), 'utf8');
        expect(w.buf.subarray(0, w.pos).equals(want)).toBe(true);
      }
    }
  });

  it('writes JSON lines that parse back to the record values', () => {
    // Known gap kept byte for byte: a finite ms value past ~1.8e305 overflows to
    // microseconds = Infinity and is written `Infinity`. No clock gets there.
    const overflows = (n: number | undefined): boolean =>
      n !== undefined && Number.isFinite(n) && !Number.isFinite(n * 1000);
    const parsable = RECORDS.filter(
      (r) => !overflows(r.durationMs) && !overflows(r.connectMs) && !overflows(r.firstByteMs),
    );
    expect(parsable.length).toBeGreaterThan(RECORDS.length * 0.9);
    for (const r of parsable) {
      const line = formatJsonLine(r);
      expect(line.endsWith('}\n')).toBe(true);
      expect(line.slice(0, -1)).not.toContain('\n');
      const parsed = JSON.parse(line) as Record<string, unknown>;
      for (const [key, want] of Object.entries(expectedJson(r))) {
        const value = parsed[key];
        // Math.round(n * 1000) / 1000 and the printed decimals can differ in the last bit.
        if (typeof want === 'number' && typeof value === 'number' && key.endsWith('Ms')) {
          expect(Math.abs(value - want)).toBeLessThanOrEqual(Math.abs(want) * 1e-15);
        } else {
          expect([key, value]).toEqual([key, want]);
        }
      }
    }
  });

  it('formatJsonLine and formatTextLine return the same text as the writer', () => {
    for (const r of RECORDS.slice(0, 500)) {
      expect(formatJsonLine(r)).toBe(refJsonLine(r));
      expect(formatTextLine(r)).toBe(refTextLine(r));
    }
  });
});

// ---------------------------------------------------------------------------
// Through AccessLog: batches as the sink receives them.

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'headway-line-writer-'));
});
afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

/** Every chunk handed to a file sink, as given (the same Buffer object), and a copy taken then. */
function captureChunks(): { given: Buffer[]; copies: Buffer[] } {
  const given: Buffer[] = [];
  const copies: Buffer[] = [];
  // Called with the sink as `this` below.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const original = FileSink.prototype.write;
  vi.spyOn(FileSink.prototype, 'write').mockImplementation(function (this: FileSink, chunk) {
    given.push(chunk);
    copies.push(Buffer.from(chunk));
    return original.call(this, chunk);
  });
  return { given, copies };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A plain record whose JSON line is exactly `bytes` long. */
function recordOfLength(seq: number, bytes: number): AccessRecord {
  const base: AccessRecord = {
    timeMs: 1_750_000_000_000 + seq,
    listener: '',
    peerAddress: '10.0.0.1',
    peerPort: 40000,
    backendId: 'redis-0',
    backendAddress: '10.0.0.7:6379',
    bytesFromClient: 100000 + seq,
    bytesFromBackend: 5,
    durationMs: 1.5,
    retries: 0,
    outcome: 'ok',
    closedFirst: 'client',
    attempts: 1,
  };
  const rest = formatJsonLine(base).length;
  expect(bytes).toBeGreaterThanOrEqual(rest);
  return { ...base, listener: 'x'.repeat(bytes - rest) };
}

/** Asserts each chunk is whole lines and returns the lines of all chunks, in order. */
function linesOf(chunks: readonly Buffer[]): string[] {
  const out: string[] = [];
  for (const c of chunks) {
    const text = c.toString('utf8');
    expect(text.endsWith('\n')).toBe(true);
    out.push(...text.slice(0, -1).split('\n'));
  }
  return out;
}

/** A JSON access log to this file, every record kept; `maxBufferBytes` as AccessLog takes it. */
function jsonLog(path: string, maxBufferBytes?: number): AccessLog {
  return new AccessLog({
    destination: path,
    format: 'json',
    sampleRate: 1,
    random: Math.random,
    ...(maxBufferBytes === undefined ? {} : { maxBufferBytes }),
  });
}

describe('AccessLog batches of bytes', () => {
  for (const format of ['json', 'text'] as const) {
    it(`writes every generated record byte for byte, in order (${format})`, async () => {
      const { given } = captureChunks();
      const path = join(dir, `${format}.log`);
      const log = new AccessLog({ destination: path, format, sampleRate: 1, random: Math.random });
      await log.ready();
      for (let i = 0; i < RECORDS.length; i += 100) {
        for (const r of RECORDS.slice(i, i + 100)) log.write(r);
        await log.flush();
      }
      await log.close();
      expect(log.dropped).toBe(0);
      expect(log.written).toBe(RECORDS.length);
      const want = Buffer.from(RECORDS.map(REFERENCE[format]).join(''), 'utf8');
      expect(Buffer.concat(given).equals(want)).toBe(true);
      expect(readFileSync(path).equals(want)).toBe(true);
      for (const c of given) expect(c.toString('utf8').endsWith('\n')).toBe(true);
    });
  }

  it('hands a batch over at the line that reaches the batch limit exactly', async () => {
    const { given } = captureChunks();
    const lineBytes = 1000;
    const path = join(dir, 'exact.log');
    // The batch limit is an eighth of the buffer bound: two lines here.
    const log = jsonLog(path, 8 * 2 * lineBytes);
    await log.ready();
    const recs = [0, 1, 2, 3, 4].map((i) => recordOfLength(i, lineBytes));
    for (const r of recs) log.write(r);
    expect(given.map((c) => c.length)).toEqual([2 * lineBytes, 2 * lineBytes]);
    await nextTurn();
    expect(given.map((c) => c.length)).toEqual([2 * lineBytes, 2 * lineBytes, lineBytes]);
    expect(linesOf(given)).toEqual(recs.map((r) => formatJsonLine(r).slice(0, -1)));
    await log.close();
  });

  it('keeps lines whole and in order when they fill or overflow the 64 KiB batch buffer', async () => {
    const { given } = captureChunks();
    const path = join(dir, 'overflow.log');
    const log = jsonLog(path);
    await log.ready();
    // 64 KiB of 512-byte lines, lines of odd sizes, one line larger than the buffer, more lines.
    const recs = [
      ...Array.from({ length: 128 }, (_, i) => recordOfLength(i, 512)),
      ...Array.from({ length: 100 }, (_, i) => recordOfLength(200 + i, 400 + ((i * 37) % 700))),
      recordOfLength(400, 200 * 1024),
      ...Array.from({ length: 50 }, (_, i) => recordOfLength(500 + i, 400)),
    ];
    for (const r of recs) log.write(r);
    await log.close();
    expect(log.dropped).toBe(0);
    expect(linesOf(given)).toEqual(recs.map((r) => formatJsonLine(r).slice(0, -1)));
    // Only the oversized line makes a chunk beyond the buffer, and it is alone in it.
    const big = given.filter((c) => c.length > 64 * 1024);
    expect(big.map((c) => c.length)).toEqual([200 * 1024]);
    expect(readFileSync(path, 'utf8')).toBe(recs.map(formatJsonLine).join(''));
  });

  it('keeps no reference to a record: one object can be reused for every line', async () => {
    const path = join(dir, 'reused.log');
    const log = jsonLog(path);
    await log.ready();
    const reused = new ReusableAccessRecord();
    const want: string[] = [];
    for (let i = 0; i < 3; i++) {
      Object.assign(reused, recordOfLength(i, 400 + i));
      reused.clientAddress = i === 1 ? '192.0.2.1' : undefined;
      want.push(formatJsonLine(reused));
      log.write(reused);
    }
    // Changed after the last write, before the end of the turn hands the batch over.
    reused.listener = 'changed';
    await log.close();
    expect(readFileSync(path, 'utf8')).toBe(want.join(''));
  });

  it('never writes again into a Buffer it handed to the sink', async () => {
    const { given, copies } = captureChunks();
    const path = join(dir, 'handed.log');
    const log = new AccessLog({
      destination: path,
      format: 'text',
      sampleRate: 1,
      random: Math.random,
    });
    await log.ready();
    // Several turns, each far more than a batch buffer's worth, so any reuse would show.
    for (let turn = 0; turn < 4; turn++) {
      for (let i = 0; i < 600; i++) log.write(recordOfLength(turn * 1000 + i, 400 + (i % 200)));
      await nextTurn();
    }
    await log.close();
    expect(given.length).toBeGreaterThan(8);
    for (let i = 0; i < given.length; i++) expect(given[i]?.equals(copies[i] as Buffer)).toBe(true);
  });
});
