import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OUTCOMES } from '../core/outcome.ts';
import { ACCESS_LOG_FIELDS, type AccessRecord, describeAccessLogFormat } from './access-record.ts';
import { formatJsonLine, formatTextLine, isoTime } from './format.ts';

const FULL: AccessRecord = {
  timeMs: Date.UTC(2025, 5, 1, 12, 34, 56, 7),
  listener: 'redis',
  peerAddress: '10.244.1.17',
  peerPort: 51234,
  clientAddress: '2001:db8::42',
  clientPort: 40001,
  backendId: 'redis-0',
  backendAddress: '10.244.2.5:6379',
  bytesFromClient: 1234,
  bytesFromBackend: 987654321,
  durationMs: 1500.1234567,
  connectMs: 0.2345,
  firstByteMs: 12,
  retries: 1,
  outcome: 'idle_timeout',
  closedFirst: 'proxy',
  attempts: 2,
};

const MINIMAL: AccessRecord = {
  timeMs: Date.UTC(2025, 5, 1, 0, 0, 0, 999),
  listener: 'pg',
  peerAddress: '::1',
  peerPort: 1,
  bytesFromClient: 0,
  bytesFromBackend: 0,
  durationMs: 0.0004,
  retries: 0,
  outcome: 'no_backend',
  closedFirst: null,
  attempts: 0,
};

/** Parse a text line: `key=value` or `key="JSON string"` pairs separated by one space. */
function parseText(line: string): Map<string, string> {
  expect(line.endsWith('\n')).toBe(true);
  const body = line.slice(0, -1);
  const pair = /([A-Za-z]+)=("(?:[^"\\]|\\.)*"|[^ "]*)(?: |$)/y;
  const out = new Map<string, string>();
  while (pair.lastIndex < body.length) {
    const m = pair.exec(body);
    if (m === null) throw new Error(`unparsable text line: ${body}`);
    const raw = m[2] ?? '';
    out.set(m[1] ?? '', raw.startsWith('"') ? (JSON.parse(raw) as string) : raw);
  }
  return out;
}

describe('formatJsonLine', () => {
  it('writes every field, in the documented order, with the record values', () => {
    const line = formatJsonLine(FULL);
    expect(line.endsWith('}\n')).toBe(true);
    expect(line.indexOf('\n')).toBe(line.length - 1);
    const obj = JSON.parse(line) as Record<string, unknown>;
    expect(Object.keys(obj)).toEqual(ACCESS_LOG_FIELDS.map((f) => f.name));
    expect(obj).toEqual({
      time: '2025-06-01T12:34:56.007Z',
      listener: 'redis',
      peerAddress: '10.244.1.17',
      peerPort: 51234,
      clientAddress: '2001:db8::42',
      clientPort: 40001,
      backendId: 'redis-0',
      backendAddress: '10.244.2.5:6379',
      bytesFromClient: 1234,
      bytesFromBackend: 987654321,
      durationMs: 1500.123,
      connectMs: 0.235,
      firstByteMs: 12,
      retries: 1,
      outcome: 'idle_timeout',
      closedFirst: 'proxy',
      attempts: 2,
    });
    // Milliseconds always carry three decimals.
    expect(line).toContain('"durationMs":1500.123,"connectMs":0.235,"firstByteMs":12.000,');
  });

  it('writes absent values as null', () => {
    const obj = JSON.parse(formatJsonLine(MINIMAL)) as Record<string, unknown>;
    expect(Object.keys(obj)).toEqual(ACCESS_LOG_FIELDS.map((f) => f.name));
    expect(obj).toMatchObject({
      time: '2025-06-01T00:00:00.999Z',
      clientAddress: null,
      clientPort: null,
      backendId: null,
      backendAddress: null,
      durationMs: 0,
      connectMs: null,
      firstByteMs: null,
      outcome: 'no_backend',
      closedFirst: null,
    });
  });

  it('writes a non-finite number (a broken clock) as null, keeping the line valid', () => {
    const obj = JSON.parse(formatJsonLine({ ...FULL, durationMs: NaN, connectMs: Infinity })) as {
      durationMs: unknown;
      connectMs: unknown;
    };
    expect(obj.durationMs).toBeNull();
    expect(obj.connectMs).toBeNull();
  });

  it('escapes any string so the line stays one valid JSON object', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }),
        fc.string({ unit: 'grapheme' }),
        fc.constantFrom(...OUTCOMES),
        (listener, backendId, outcome) => {
          const line = formatJsonLine({ ...FULL, listener, backendId, outcome });
          expect(line.indexOf('\n')).toBe(line.length - 1);
          const obj = JSON.parse(line) as AccessRecord;
          // Lone surrogates too: JSON.stringify writes them as \u escapes.
          expect(obj.listener).toBe(listener);
          expect(obj.backendId).toBe(backendId);
          expect(obj.outcome).toBe(outcome);
        },
      ),
    );
  });

  it('escapes quotes, backslashes and control characters', () => {
    const listener = 'a"b\\c\nd\te\u0001\u007f é 🚀';
    const obj = JSON.parse(formatJsonLine({ ...FULL, listener })) as AccessRecord;
    expect(obj.listener).toBe(listener);
  });
});

describe('formatTextLine', () => {
  it('writes key=value pairs in the documented order', () => {
    expect(formatTextLine(FULL)).toBe(
      'time=2025-06-01T12:34:56.007Z listener=redis peerAddress=10.244.1.17 peerPort=51234 ' +
        'clientAddress=2001:db8::42 clientPort=40001 backendId=redis-0 ' +
        'backendAddress=10.244.2.5:6379 bytesFromClient=1234 bytesFromBackend=987654321 ' +
        'durationMs=1500.123 connectMs=0.235 firstByteMs=12.000 retries=1 outcome=idle_timeout ' +
        'closedFirst=proxy attempts=2\n',
    );
    expect([...parseText(formatTextLine(FULL)).keys()]).toEqual(
      ACCESS_LOG_FIELDS.map((f) => f.name),
    );
  });

  it('writes absent values as -', () => {
    expect(formatTextLine(MINIMAL)).toBe(
      'time=2025-06-01T00:00:00.999Z listener=pg peerAddress=::1 peerPort=1 clientAddress=- ' +
        'clientPort=- backendId=- backendAddress=- bytesFromClient=0 bytesFromBackend=0 ' +
        'durationMs=0.000 connectMs=- firstByteMs=- retries=0 outcome=no_backend closedFirst=- attempts=0\n',
    );
  });

  it('quotes a string that could be misread, and any string parses back', () => {
    expect(formatTextLine({ ...FULL, listener: 'a b' })).toContain(' listener="a b" ');
    expect(formatTextLine({ ...FULL, listener: '-' })).toContain(' listener="-" ');
    expect(formatTextLine({ ...FULL, listener: '' })).toContain(' listener="" ');
    expect(formatTextLine({ ...FULL, listener: 'k=v' })).toContain(' listener="k=v" ');
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string(), (listener, backendId) => {
        const fields = parseText(formatTextLine({ ...FULL, listener, backendId }));
        expect(fields.get('listener')).toBe(listener);
        expect(fields.get('backendId')).toBe(backendId);
        expect(fields.size).toBe(ACCESS_LOG_FIELDS.length);
      }),
    );
  });
});

describe('isoTime', () => {
  it('matches Date#toISOString, across second boundaries and in any order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 4102444800000 }), { minLength: 1, maxLength: 20 }),
        (times) => {
          for (const t of times) {
            expect(isoTime(t)).toBe(new Date(t).toISOString());
            expect(isoTime(t + 0.75)).toBe(new Date(t).toISOString());
          }
        },
      ),
    );
  });
});

describe('isoTime out of range', () => {
  it('never throws: far dates as Date writes them, invalid ones as the epoch', () => {
    expect(isoTime(-1)).toBe('1969-12-31T23:59:59.999Z');
    expect(isoTime(253402300800000)).toBe('+010000-01-01T00:00:00.000Z');
    expect(isoTime(NaN)).toBe('1970-01-01T00:00:00.000Z');
    expect(isoTime(1e20)).toBe('1970-01-01T00:00:00.000Z');
  });
});

describe('describeAccessLogFormat', () => {
  it('documents every field as a Markdown table row', () => {
    const doc = describeAccessLogFormat();
    for (const f of ACCESS_LOG_FIELDS) expect(doc).toContain(`| \`${f.name}\` |`);
    expect(doc.trimEnd().split('\n')).toHaveLength(ACCESS_LOG_FIELDS.length + 2);
  });
});
