/**
 * Defect (issue 16 item 6): `--backends` given twice kept only the last one, silently (HAProxy
 * users write one server a line), and so did every other flag that takes one value (yargs keeps the
 * last). Now `--backends` is repeatable: static lists merge, and mixing discovery sources in one
 * listener exits 2 saying so. Any other one-value flag given twice (including a boolean and its
 * --no- form), and a list in the config file for a one-value key, exit 2 naming it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runHeadway, startProxy } from '../helpers/headway-process.ts';
import { startWhoami, whoAnswers } from '../helpers/sockets.ts';

const SAFE = ['--listen', '127.0.0.1:0', '--admin', 'off'];

function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l !== '');
  expect(lines, stderr).toHaveLength(1);
  return lines[0] ?? '';
}

describe('repeated flags', () => {
  it('--backends twice: both static lists serve', async () => {
    const a = await startWhoami('127.0.0.61');
    const b = await startWhoami('127.0.0.62');
    const proxy = await startProxy([
      '--strategy',
      'round-robin',
      '--backends',
      `static://${a.address}`,
      '--backends',
      `static://${b.address}`,
    ]);
    try {
      const seen = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const r = await whoAnswers(proxy.port);
        seen.add(r.who);
        r.socket.destroy();
      }
      expect([...seen].sort()).toEqual(['127.0.0.61', '127.0.0.62']);
    } finally {
      await proxy.stop();
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('--backends mixing sources in one listener exits 2', async () => {
    const r = await runHeadway([
      ...SAFE,
      '--backends',
      'static://127.0.0.1:9',
      '--backends',
      'dns://db.example:6379',
    ]);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/^headway: --backends: .*static:\/\/.*dns:\/\//);
  });

  it('--backends listing one address twice across flags exits 2', async () => {
    const r = await runHeadway([
      ...SAFE,
      '--backends',
      'static://127.0.0.1:9',
      '--backends',
      'static://127.0.0.1:9',
    ]);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/^headway: --backends: .*listed twice/);
  });

  it.each([
    [['--strategy', 'random', '--strategy', 'round-robin'], '--strategy'],
    [['--connect-timeout=1s', '--connect-timeout', '2s'], '--connect-timeout'],
    [['--sni-strict', '--no-sni-strict'], '--sni-strict'],
    [['--watch-config', '--watch-config'], '--watch-config'],
  ])('%j exits 2 naming the flag', async (args, flag) => {
    const r = await runHeadway([...SAFE, '--backends', 'static://127.0.0.1:9', ...args]);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(new RegExp(`^headway: ${flag}: given more than once`));
  });

  it('a list for a one-value key in the config file exits 2 naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'headway-dup-'));
    const path = join(dir, 'h.yaml');
    writeFileSync(
      path,
      'listeners:\n  - backends: static://127.0.0.1:9\n    strategy: [random, round-robin]\n',
    );
    const r = await runHeadway(['check-config', path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/listeners\[0\]\.strategy: takes one value, not a list/);
  });
});
