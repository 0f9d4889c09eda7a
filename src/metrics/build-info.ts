import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Gauge, type Registry } from 'prom-client';

/** What this build is: `headway --version`, the start-up log, `headway_build_info` and the status page. */
export interface BuildInfo {
  readonly version: string;
  /** The source revision (git commit), or `unknown`. */
  readonly revision: string;
  /** The Node.js version running it. */
  readonly node: string;
}

/** The package root: two levels above this file, in src/ and in dist/ alike. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let cached: BuildInfo | undefined;

/**
 * The version comes from package.json (shipped in the image beside dist/).
 * The revision, in order: `HEADWAY_REVISION` (the Dockerfile sets it from
 * its REVISION build argument), else `git rev-parse --short HEAD` when
 * running from a clone, else `unknown`. Read once per process.
 */
export function buildInfo(
  env: Readonly<Record<string, string | undefined>> = process.env,
): BuildInfo {
  if (cached !== undefined) return cached;
  cached = { version: readVersion(), revision: readRevision(env), node: process.version };
  return cached;
}

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

function readRevision(env: Readonly<Record<string, string | undefined>>): string {
  const given = env['HEADWAY_REVISION']?.trim();
  // Anything but a plain token (e.g. an unexpanded `${REVISION}`) is not a revision: look further.
  if (given !== undefined && given !== 'unknown' && /^[\w.+-]{1,64}$/.test(given)) return given;
  if (!existsSync(`${ROOT}.git`)) return 'unknown';
  try {
    const out = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 2000,
    }).trim();
    return /^[0-9a-f]{4,40}$/.test(out) ? out : 'unknown';
  } catch {
    // No git on the machine, or not a repository after all.
    return 'unknown';
  }
}

/** `headway_build_info{version,revision,node} 1`, as Prometheus' own `prometheus_build_info`. */
export function registerBuildInfo(registry: Registry, info: BuildInfo = buildInfo()): void {
  const g = new Gauge({
    name: 'headway_build_info',
    help: 'Always 1; the labels say which Headway build and Node.js version are running',
    labelNames: ['version', 'revision', 'node'],
    // With worker threads only the main thread registers it; merging keeps 1.
    aggregator: 'max',
    registers: [registry],
  });
  g.set({ version: info.version, revision: info.revision, node: info.node }, 1);
}
