import { describe, expect, it } from 'vitest';
import * as v from './values.ts';
import { ValueError } from '../core/errors.ts';

/** The ValueError message a parser throws for `raw` (fails the test if it does not throw one). */
function problem(parse: (raw: v.RawValue) => unknown, raw: v.RawValue): string {
  try {
    parse(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ValueError);
    return (err as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(raw)} to be refused`);
}

describe('asText', () => {
  it('trims strings and stringifies numbers and booleans', () => {
    expect(v.asText('  5s ')).toBe('5s');
    expect(v.asText(5)).toBe('5');
    expect(v.asText(true)).toBe('true');
  });
});

describe('duration', () => {
  it('parses durations to milliseconds', () => {
    expect(v.duration('5s')).toBe(5000);
    expect(v.duration(' 250ms ')).toBe(250);
    expect(v.duration('0')).toBe(0);
    expect(v.duration(0)).toBe(0);
  });

  it('refuses bare numbers and garbage, with an example', () => {
    expect(problem(v.duration, '5')).toBe('"5" is not a duration (e.g. 500ms, 5s, 1m, 1h)');
    expect(problem(v.duration, 5)).toBe('"5" is not a duration (e.g. 500ms, 5s, 1m, 1h)');
    expect(problem(v.duration, '5x')).toMatch(/^"5x" is not a duration/);
    expect(problem(v.duration, '')).toMatch(/^"" is not a duration/);
    expect(problem(v.duration, 'off')).toMatch(/^"off" is not a duration/);
  });
});

describe('durationOrOff', () => {
  it('reads off, none, false and 0 as 0', () => {
    for (const raw of ['off', 'none', 'false', '0', ' off ']) expect(v.durationOrOff(raw)).toBe(0);
  });

  it('parses other durations and refuses garbage', () => {
    expect(v.durationOrOff('1h')).toBe(3_600_000);
    expect(problem(v.durationOrOff, 'never')).toMatch(/^"never" is not a duration/);
    expect(problem(v.durationOrOff, '10')).toMatch(/^"10" is not a duration/);
  });
});

describe('integer', () => {
  const parse = v.integer(0, 100);

  it('parses whole numbers in range', () => {
    expect(parse('0')).toBe(0);
    expect(parse('100')).toBe(100);
    expect(parse(' 7 ')).toBe(7);
    expect(parse(42)).toBe(42);
  });

  it('refuses numbers out of range, naming the range', () => {
    expect(problem(parse, '-1')).toBe('-1 is out of range (0-100)');
    expect(problem(parse, '101')).toBe('101 is out of range (0-100)');
  });

  it('refuses what is not a whole number', () => {
    expect(problem(parse, '1.5')).toBe('"1.5" is not a whole number');
    expect(problem(parse, 'two')).toBe('"two" is not a whole number');
    expect(problem(parse, '1e2')).toBe('"1e2" is not a whole number');
    expect(problem(parse, '')).toBe('"" is not a whole number');
    expect(problem(parse, true)).toBe('"true" is not a whole number');
  });
});

describe('limit', () => {
  it('reads off, unlimited, none and 0 as no limit', () => {
    for (const raw of ['off', 'unlimited', 'none', '0']) expect(v.limit(raw)).toBe(0);
  });

  it('parses whole numbers up to ten million', () => {
    expect(v.limit('1000')).toBe(1000);
    expect(v.limit('10000000')).toBe(10_000_000);
    expect(problem(v.limit, '10000001')).toBe('10000001 is out of range (0-10000000)');
    expect(problem(v.limit, '-5')).toBe('-5 is out of range (0-10000000)');
    expect(problem(v.limit, 'lots')).toBe('"lots" is not a whole number');
  });
});

describe('boolean', () => {
  it('accepts booleans and the usual words', () => {
    expect(v.boolean(true)).toBe(true);
    expect(v.boolean(false)).toBe(false);
    for (const raw of ['true', 'TRUE', '1', 'yes', 'on', 1]) expect(v.boolean(raw)).toBe(true);
    for (const raw of ['false', 'False', '0', 'no', 'off', 0]) expect(v.boolean(raw)).toBe(false);
  });

  it('refuses anything else', () => {
    expect(problem(v.boolean, 'maybe')).toBe('"maybe" is not a boolean (true or false)');
    expect(problem(v.boolean, '')).toBe('"" is not a boolean (true or false)');
    expect(problem(v.boolean, 2)).toBe('"2" is not a boolean (true or false)');
  });
});

describe('oneOf', () => {
  const parse = v.oneOf(['json', 'text'] as const);

  it('accepts the listed values exactly', () => {
    expect(parse('json')).toBe('json');
    expect(parse(' text ')).toBe('text');
  });

  it('refuses others, listing the valid ones', () => {
    expect(problem(parse, 'yaml')).toBe('unknown value "yaml" (expected one of: json, text)');
    expect(problem(parse, 'JSON')).toBe('unknown value "JSON" (expected one of: json, text)');
  });
});

describe('hostPort', () => {
  it('parses addresses and passes the address error through', () => {
    expect(v.hostPort('127.0.0.1:80')).toEqual({ host: '127.0.0.1', port: 80 });
    expect(v.hostPort(':80')).toEqual({ host: '::', port: 80 });
    expect(problem(v.hostPort, 'nope')).toBe('"nope" has no port (expected HOST:PORT)');
    expect(problem(v.hostPort, '127.0.0.1:70000')).toBe('port 70000 is out of range (0-65535)');
    expect(problem(v.hostPort, 8080)).toBe(
      '"8080" has no host: did you mean :8080 (every address)?',
    );
  });
});

describe('hostPortOrOff', () => {
  it('reads off as null', () => {
    expect(v.hostPortOrOff('off')).toBeNull();
    expect(v.hostPortOrOff('[::1]:9901')).toEqual({ host: '::1', port: 9901 });
    expect(problem(v.hostPortOrOff, 'none')).toMatch(/"none" has no port/);
  });
});

describe('text', () => {
  it('refuses empty text', () => {
    expect(v.text(' x ')).toBe('x');
    expect(problem(v.text, '  ')).toBe('must not be empty');
  });
});

describe('listenerName', () => {
  it('accepts letters, digits, _ - . up to 63 characters', () => {
    for (const name of ['default', 'redis', 'a', 'pg.primary-1_x', 'A'.repeat(63), '0abc']) {
      expect(v.listenerName(name)).toBe(name);
    }
  });

  it('refuses other names', () => {
    expect(problem(v.listenerName, '')).toBe(
      '"" is not a valid name (letters, digits, "_", "-", "."; up to 63)',
    );
    for (const name of ['-lead', '.lead', 'has space', 'ünï', 'a/b', 'A'.repeat(64)]) {
      expect(problem(v.listenerName, name)).toMatch(/is not a valid name/);
    }
  });
});
