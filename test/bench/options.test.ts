import { describe, expect, it } from 'vitest';
import {
  MODE_DEFAULTS,
  parseBenchOptions,
  parseByteSize,
  parseTarget,
} from '../../src/bench/bench-options.ts';
import { ConfigError } from '../../src/core/errors.ts';

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.field;
    throw err;
  }
  return undefined;
}

describe('parseBenchOptions', () => {
  it('fills in per-mode defaults', () => {
    const rr = parseBenchOptions({ mode: 'rr', target: '127.0.0.1:9000', progress: false });
    expect(rr).toMatchObject({
      mode: 'rr',
      connections: MODE_DEFAULTS.rr.connections,
      sizeBytes: 64,
      durationMs: 10_000,
      warmupMs: 2_000,
      ratePerSec: 0,
      rounds: 1,
      timeoutMs: 2_000,
      progress: false,
    });
    const stream = parseBenchOptions({ mode: 'stream', target: '127.0.0.1:9000' });
    expect(stream.sizeBytes).toBe(65_536);
    expect(stream.connections).toBe(1);
  });

  it('splits several targets into 5 interleaved rounds by default', () => {
    const o = parseBenchOptions({
      mode: 'rr',
      target: ['a=127.0.0.1:1', 'b=127.0.0.1:2'],
      duration: '2s',
    });
    expect(o.rounds).toBe(5);
    expect(o.targets.map((t) => t.name)).toEqual(['a', 'b']);
  });

  it('parses every flag', () => {
    const o = parseBenchOptions({
      mode: 'connect',
      target: 'proxy=[::1]:8080',
      connections: '50',
      duration: '1m',
      warmup: '0',
      size: '0',
      rate: '2000',
      rounds: '3',
      timeout: '500ms',
      json: 'out.json',
      html: 'out.html',
      progress: true,
    });
    expect(o).toMatchObject({
      mode: 'connect',
      connections: 50,
      durationMs: 60_000,
      warmupMs: 0,
      sizeBytes: 0,
      ratePerSec: 2000,
      rounds: 3,
      timeoutMs: 500,
      jsonFile: 'out.json',
      htmlFile: 'out.html',
      progress: true,
    });
    expect(o.targets[0]).toEqual({ name: 'proxy', host: '::1', port: 8080, address: '[::1]:8080' });
  });

  it.each([
    [{ mode: 'ping' }, 'mode'],
    [{ mode: 'rr' }, '--target'],
    [{ mode: 'rr', target: 'nohost' }, '--target'],
    [{ mode: 'rr', target: '127.0.0.1:0' }, '--target'],
    [{ mode: 'rr', target: ['x=127.0.0.1:1', 'x=127.0.0.1:2'] }, '--target'],
    [{ mode: 'rr', target: 'bad name=127.0.0.1:1' }, '--target'],
    [{ mode: 'rr', target: '127.0.0.1:1', connections: '0' }, '--connections'],
    [{ mode: 'rr', target: '127.0.0.1:1', connections: 'ten' }, '--connections'],
    [{ mode: 'rr', target: '127.0.0.1:1', duration: '10' }, '--duration'],
    [{ mode: 'rr', target: '127.0.0.1:1', duration: '0' }, '--duration'],
    [{ mode: 'rr', target: '127.0.0.1:1', warmup: 'soon' }, '--warmup'],
    [{ mode: 'rr', target: '127.0.0.1:1', size: '0' }, '--size'],
    [{ mode: 'rr', target: '127.0.0.1:1', size: '64q' }, '--size'],
    [{ mode: 'rr', target: '127.0.0.1:1', size: '17m' }, '--size'],
    [{ mode: 'rr', target: '127.0.0.1:1', rate: '-5' }, '--rate'],
    [{ mode: 'stream', target: '127.0.0.1:1', rate: '100' }, '--rate'],
    [{ mode: 'rr', target: '127.0.0.1:1', duration: '1s', rounds: '20' }, '--rounds'],
    [{ mode: 'rr', target: '127.0.0.1:1', timeout: '0' }, '--timeout'],
    [{ mode: 'rr', target: '127.0.0.1:1', json: ' ' }, '--json'],
  ])('rejects %j naming %s', (raw, field) => {
    expect(fieldOf(() => parseBenchOptions(raw))).toBe(field);
  });
});

describe('parseTarget', () => {
  it('defaults the name to the address and dials loopback for :PORT', () => {
    expect(parseTarget(':9000')).toEqual({
      name: '127.0.0.1:9000',
      host: '127.0.0.1',
      port: 9000,
      address: '127.0.0.1:9000',
    });
    expect(parseTarget('haproxy=localhost:7000').name).toBe('haproxy');
  });
});

describe('parseByteSize', () => {
  it.each([
    ['64', 64],
    ['16k', 16_384],
    ['64KiB', 65_536],
    ['1m', 1_048_576],
    ['2MB', 2_097_152],
  ])('%s = %d bytes', (text, bytes) => {
    expect(parseByteSize(text)).toBe(bytes);
  });
});
