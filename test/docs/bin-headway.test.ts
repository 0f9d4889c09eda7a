/**
 * `bin/headway`, the README's way to run `headway` by name from a clone: it must run the CLI with
 * a Node new enough for it even when the `node` first on PATH is older than `engines` (a system
 * Node 20), and keep working when called through a symlink (as `npm link` installs it).
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from './pages.ts';

const run = promisify(execFile);
const WRAPPER = join(REPO, 'bin/headway');
const VERSION = (
  JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }
).version;

/** `--version` prints `headway VERSION (revision R, node vX.Y.Z)` (src/cli/cli.ts versionText). */
const VERSION_LINE = new RegExp(
  `^headway ${VERSION.replace(/\./g, '\\.')} \\(revision [^,()]+, node v\\d+\\.\\d+\\.\\d+\\)$`,
);

const dir = mkdtempSync(join(tmpdir(), 'headway-bin-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bin/headway', () => {
  it('runs `--version` from the clone', async () => {
    const { stdout } = await run(WRAPPER, ['--version']);
    expect(stdout.trim()).toMatch(VERSION_LINE);
  });

  it('skips a node on PATH that is older than engines', async () => {
    const shim = mkdtempSync(join(dir, 'old-node-'));
    writeFileSync(
      join(shim, 'node'),
      '#!/bin/sh\nif [ "$1" = -p ]; then echo 20.20.2; exit 0; fi\necho "old node ran: $*" >&2\nexit 3\n',
    );
    chmodSync(join(shim, 'node'), 0o755);
    const { stdout, stderr } = await run(WRAPPER, ['--version'], {
      env: { ...process.env, PATH: `${shim}:/usr/bin:/bin` },
    });
    expect(stderr).not.toContain('old node ran');
    expect(stdout.trim()).toMatch(VERSION_LINE);
  });

  it('works through a symlink, as npm link installs it', async () => {
    const link = join(mkdtempSync(join(dir, 'global-bin-')), 'headway');
    symlinkSync(WRAPPER, link);
    const { stdout } = await run(link, ['--version'], { cwd: tmpdir() });
    expect(stdout.trim()).toMatch(VERSION_LINE);
  });

  it('passes the exit code on: bad input is 2', async () => {
    const err = await run(WRAPPER, [
      '--listen',
      '127.0.0.1:70000',
      '--backends',
      'static://127.0.0.1:1',
    ]).catch((e: unknown) => e as { code: number; stderr: string });
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stderr: string }).stderr).toContain('--listen');
  });

  it('is the package bin, so `npm link` installs it', () => {
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
      files: string[];
    };
    expect(pkg.bin.headway).toBe('bin/headway');
    expect(pkg.files).toContain('bin');
  });
});
