import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHeadway, type CliResult } from '../helpers/headway-process.ts';
import { refusedPort, startEcho, type Backend } from '../helpers/sockets.ts';

/** `headway bench ARGS` through the CLI (src/cli/main.ts); a run takes longer than other commands. */
function runBench(args: readonly string[]): Promise<CliResult> {
  return runHeadway(['bench', ...args], {}, 30_000);
}

describe('headway bench (CLI)', () => {
  let echo: Backend;
  let dir: string;
  beforeAll(async () => {
    echo = await startEcho(0);
    dir = await mkdtemp(join(tmpdir(), 'headway-bench-'));
  });
  afterAll(async () => {
    await echo.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the table and writes JSON and HTML', async () => {
    const json = join(dir, 'out.json');
    const html = join(dir, 'out.html');
    const r = await runBench([
      'rr',
      '--target',
      `echo=${echo.address}`,
      '--duration',
      '500ms',
      '--warmup',
      '0',
      '--json',
      json,
      '--html',
      html,
    ]);
    // Only the plan up front and the files written: no warnings.
    expect(r.stderr.split('\n').filter((l) => l !== '')).toEqual([
      'headway: bench rr: 1 target × 500ms = 500ms',
      `headway: bench: wrote the JSON report to ${json}`,
      `headway: bench: wrote the HTML report to ${html}`,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^headway bench rr: 10 connections/);
    expect(r.stdout).toMatch(/exchanges\/s\s+[\d,]+/);
    const doc = JSON.parse(await readFile(json, 'utf8')) as {
      schema: string;
      targets: { name: string; operations: number }[];
    };
    expect(doc.schema).toBe('headway-bench/v1');
    expect(doc.targets[0]?.name).toBe('echo');
    expect(doc.targets[0]?.operations).toBeGreaterThan(0);
    expect(await readFile(html, 'utf8')).toContain('<svg');
  });

  it('exits 2 naming the bad flag', async () => {
    const r = await runBench(['rr', '--target', echo.address, '--size', 'lots']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--size: "lots" is not a size');
    const unknown = await runBench(['rr', '--target', echo.address, '--bogus', '1']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('bogus');
  });

  it('exits 1 when a target completed nothing, with its errors in the table', async () => {
    const port = await refusedPort();
    const r = await runBench([
      'rr',
      '--target',
      `127.0.0.1:${port}`,
      '--duration',
      '300ms',
      '--warmup',
      '0',
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/ECONNREFUSED\s+[1-9]/);
    expect(r.stderr).toContain('completed nothing');
  });

  it('runs as `headway bench` from src/cli/main.ts', async () => {
    const r = await runHeadway([
      'bench',
      'connect',
      '--target',
      echo.address,
      '--duration',
      '300ms',
      '--warmup',
      '0',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/connections\/s\s+[\d,]+/);
    const bad = await runHeadway(['bench', 'rr', '--target', echo.address, '--rate', 'fast']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--rate');
  });
});
