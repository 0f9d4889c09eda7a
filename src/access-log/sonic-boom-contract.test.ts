import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sonicBoom from 'sonic-boom';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * Contract of the installed sonic-boom with what sinks.ts reads from it
 * beyond its typings: the private `_len` (bytes waiting, what `maxLength`
 * is checked against: the access log's buffered bytes) and `_writing` (a
 * write(2) is under way: no flush may start another), and Buffers accepted
 * by `write()` in `contentMode: 'buffer'`. An upgrade that renames or
 * repurposes them fails here, naming the field, instead of silently
 * breaking the access log's bound and flushes.
 */
const { SonicBoom } = sonicBoom;
const version = (createRequire(import.meta.url)('sonic-boom/package.json') as { version: string })
  .version;

interface Internals {
  _len: unknown;
  _writing: unknown;
}

function field(boom: object, name: keyof Internals): unknown {
  const value = (boom as Internals)[name];
  if (!(name in boom))
    throw new Error(
      `sonic-boom ${version} has no private field ${name}: src/access-log/sinks.ts reads it`,
    );
  return value;
}

let dir: string | undefined;
afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe(`sonic-boom ${version}: the private fields sinks.ts reads`, () => {
  it('_len counts the bytes waiting and _writing tells a write under way', async () => {
    dir = mkdtempSync(join(tmpdir(), 'headway-sonic-boom-'));
    const path = join(dir, 'log');
    const boom = new SonicBoom({
      dest: path,
      sync: false,
      contentMode: 'buffer',
      maxLength: 1 << 20,
      minLength: 4096,
    });
    await once(boom, 'ready');
    expect(field(boom, '_len'), '_len when nothing waits').toBe(0);
    expect(field(boom, '_writing'), '_writing when idle').toBe(false);
    // Below minLength: the bytes wait in sonic-boom's buffer.
    boom.write(Buffer.from('line one\n') as unknown as string);
    expect(field(boom, '_len'), '_len after a buffered write of 9 bytes').toBe(9);
    expect(field(boom, '_writing'), '_writing before any flush').toBe(false);
    const written = once(boom, 'write');
    boom.flush();
    expect(field(boom, '_writing'), '_writing while a flush is writing').toBe(true);
    await written;
    await new Promise((r) => setImmediate(r));
    expect(field(boom, '_writing'), '_writing once the write is done').toBe(false);
    expect(field(boom, '_len'), '_len once written').toBe(0);
    boom.end();
    await once(boom, 'close');
    expect(readFileSync(path, 'utf8')).toBe('line one\n');
  });
});
