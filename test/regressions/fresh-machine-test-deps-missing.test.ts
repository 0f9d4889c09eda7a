/**
 * Defect: on a fresh machine `npm ci && npm test` failed (`spawn dnsmasq ENOENT`) or skipped
 * silently, because only .ci/run installed the Debian packages the tests use. scripts/test-deps
 * (npm's pretest, and .ci/run) now checks every program and installs or names what is missing.
 * Here it runs with a PATH from which those programs are hidden.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { packagesOfCommands } from '../helpers/required-programs.ts';

const SCRIPT = fileURLToPath(new URL('../../scripts/test-deps', import.meta.url));

/** A folder holding only the basic tools the script itself runs, none of the tested programs. */
function barePath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'headway-bare-path-'));
  chmodSync(dir, 0o755); // readable by the unprivileged user below
  for (const tool of ['bash', 'env', 'id', 'sort', 'sed', 'cat']) {
    const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    if (found === '') throw new Error(`${tool} is needed to run scripts/test-deps`);
    symlinkSync(found, join(dir, tool));
  }
  return dir;
}

function run(args: readonly string[], prefix: readonly string[] = []) {
  const bare = barePath();
  const command = [...prefix, join(bare, 'bash'), SCRIPT, ...args];
  return spawnSync(command[0] as string, command.slice(1), {
    encoding: 'utf8',
    env: { PATH: bare, HEADWAY_NGINX_MODULES: join(bare, 'no-modules') },
  });
}

const EVERY_PACKAGE = [...new Set([...packagesOfCommands().values(), 'libnginx-mod-stream'])];

describe('scripts/test-deps with the tested programs hidden', () => {
  it('lists the commands the suites spawn', () => {
    const commands = [...packagesOfCommands().keys()];
    for (const c of ['dnsmasq', 'redis-server', 'haproxy', 'nginx', 'chromium', 'openssl'])
      expect(commands).toContain(c);
  });

  it('--check names every missing package and exits 1', () => {
    const r = run(['--check']);
    expect(r.status).toBe(1);
    for (const pkg of EVERY_PACKAGE) expect(r.stderr).toMatch(new RegExp(`\\b${pkg}\\b`));
  });

  it('without root prints the one apt-get line to run and exits 1', () => {
    const setpriv = spawnSync('sh', ['-c', 'command -v setpriv'], {
      encoding: 'utf8',
    }).stdout.trim();
    const asNobody =
      process.getuid?.() === 0 ? [setpriv, '--reuid=65534', '--regid=65534', '--clear-groups'] : [];
    const r = run([], asNobody);
    expect(r.status).toBe(1);
    const line = r.stderr.split('\n').find((l) => l.includes('apt-get install')) ?? '';
    for (const pkg of EVERY_PACKAGE) expect(line).toMatch(new RegExp(`\\b${pkg}\\b`));
  });

  it('is what npm runs before the tests, and what .ci/run runs', () => {
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts['pretest']).toBe('scripts/test-deps');
    const ci = readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8');
    expect(ci).toContain('scripts/test-deps');
  });

  it('passes quietly on this machine, where npm test just ran it', () => {
    const r = spawnSync(SCRIPT, ['--check'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
