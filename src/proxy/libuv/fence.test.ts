import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The fence: Node.js internals (`process.binding`, the stream state slots,
 * a net.Server's or net.Socket's `_handle`) are reached only from
 * src/proxy/libuv/, where the start-up self-test checks them. Code
 * elsewhere (src/, bench/, scripts/) that reaches for them again would run
 * unchecked on a Node.js that changed them.
 */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const FENCE = 'src/proxy/libuv/';
/** Reaching into Node: nowhere outside the fence. */
const OBTAIN = /process\s*\.\s*binding|internalBinding|\b_handle\b/;
/** Using what was reached: bench/raw-relay.ts may, through the fenced surface it imports. */
const USE = /streamBaseState|\.onconnection\b/;

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

describe('Node.js internals stay inside src/proxy/libuv/', () => {
  it('no source outside the fence names them (bench/ uses them only through the fence)', () => {
    const offenders: string[] = [];
    for (const file of ['src', 'bench', 'scripts'].flatMap(sources)) {
      if (!relative(FENCE, file).startsWith('..')) continue;
      readFileSync(join(ROOT, file), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          const m = OBTAIN.exec(line) ?? (file.startsWith('src/') ? USE.exec(line) : null);
          if (m !== null) offenders.push(`${file}:${i + 1}: ${m[0]}`);
        });
    }
    expect(offenders).toEqual([]);
  });

  it('recognises each internal it guards against', () => {
    for (const line of [
      "const tcp = process.binding('tcp_wrap');",
      'const n = state.streamBaseState[k];',
      'server._handle.onconnection = f;',
      'socket._handle.setNoDelay(true);',
    ])
      expect(OBTAIN.test(line) || USE.test(line), line).toBe(true);
  });
});
