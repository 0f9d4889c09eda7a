import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnHeadway, type HeadwayProcess, type LogLine } from './headway-process.ts';

/** A config file in its own temporary directory, rewritten by `write`. */
export interface TempConfig {
  readonly dir: string;
  readonly path: string;
  write(lines: readonly string[]): void;
}

export function tempConfig(lines: readonly string[], name = 'headway.yaml'): TempConfig {
  const dir = mkdtempSync(join(tmpdir(), 'headway-reload-'));
  const path = join(dir, name);
  const write = (l: readonly string[]): void => writeFileSync(path, l.join('\n') + '\n');
  write(lines);
  return { dir, path, write };
}

/** A proxy started from a config file, with its admin URL. */
export interface ConfiguredProxy extends HeadwayProcess {
  readonly adminUrl: string;
  /** Log lines from index `mark` on matching `msg`. */
  since(mark: number, msg: string): LogLine[];
  /** SIGHUP, then wait for the reload's outcome line. */
  sighup(): Promise<LogLine>;
}

export const RELOAD_OUTCOMES = new Set([
  'config reloaded',
  'config unchanged; nothing to apply',
  'config reload applied nothing; the changed options need a restart',
  'config reload failed; keeping the running configuration',
  'config reload rejected; keeping the running configuration',
  'config reload refused: shutting down',
  // What versions before the transactional reload logged (so a test fails on the defect, not a timeout).
  'config reload failed',
]);

export async function startConfigured(
  path: string,
  args: readonly string[] = [],
): Promise<ConfiguredProxy> {
  const p = spawnHeadway([
    '--config',
    path,
    // Health probes would be extra connections to the tests' backends: opt in per test.
    ...(args.includes('--health-check') ? [] : ['--health-check', 'none']),
    '--log-level',
    'debug',
    ...args,
  ]);
  const admin = await p.waitForLog((l) => l.msg === 'admin listening');
  const since = (mark: number, msg: string): LogLine[] =>
    p.logs.slice(mark).filter((l) => l.msg === msg);
  return {
    ...p,
    adminUrl: `http://${String(admin.address)}`,
    since,
    async sighup() {
      const mark = p.logs.length;
      p.proc.kill('SIGHUP');
      return p.waitForLog((l) => RELOAD_OUTCOMES.has(l.msg ?? '') && p.logs.indexOf(l) >= mark);
    },
  };
}

/** `/metrics` value of one series (labels as written, e.g. `result="failure"`), or undefined. */
export async function metric(
  adminUrl: string,
  name: string,
  labels = '',
): Promise<number | undefined> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const series = labels === '' ? name : `${name}{${labels}}`;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

export async function readyz(adminUrl: string): Promise<number> {
  return (await fetch(`${adminUrl}/readyz`)).status;
}
