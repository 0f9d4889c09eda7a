import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Programs the suites talk to, and the Debian package that brings each. `npm test` installs them
 * first (scripts/test-deps, npm's pretest); a test that still finds one missing fails naming the
 * package instead of skipping, so a red suite never hides behind a green summary.
 */
const TEST_DEPS = fileURLToPath(new URL('../../scripts/test-deps', import.meta.url));

/** command → Debian package, read from scripts/test-deps so that the list lives in one place. */
export function packagesOfCommands(): ReadonlyMap<string, string> {
  const script = readFileSync(TEST_DEPS, 'utf8');
  const body = /^needs=\(\n([\s\S]*?)^\)/m.exec(script)?.[1] ?? '';
  return new Map(
    [...body.matchAll(/^\s*"(\S+) (\S+)"/gm)].map((m) => [m[1] ?? '', m[2] ?? ''] as const),
  );
}

export const NGINX_STREAM_MODULE = `${process.env['HEADWAY_NGINX_MODULES'] ?? '/usr/lib/nginx/modules'}/ngx_stream_module.so`;

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Throws, naming the Debian package, when `command` is not on PATH. */
export function requireProgram(command: string): void {
  if (onPath(command)) return;
  const pkg = packagesOfCommands().get(command) ?? command;
  throw new Error(
    `${command} is not installed: run scripts/test-deps as root (or apt-get install ${pkg})`,
  );
}

/** Throws, naming libnginx-mod-stream, when NGINX's stream module is missing. */
export function requireNginxStream(): void {
  requireProgram('nginx');
  if (!existsSync(NGINX_STREAM_MODULE)) {
    throw new Error(
      `${NGINX_STREAM_MODULE} is missing: run scripts/test-deps as root (or apt-get install libnginx-mod-stream)`,
    );
  }
}
