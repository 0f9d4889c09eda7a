import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

/** The CLI entry point, run with the same Node as the tests (Node 24 via the `node` dev dependency). */
export const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export interface LogLine {
  readonly msg?: string;
  readonly [key: string]: unknown;
}

export interface HeadwayProcess {
  readonly proc: ChildProcess;
  readonly pid: number;
  /** Parsed JSON lines from stdout so far. */
  readonly logs: LogLine[];
  /** Raw stderr so far. */
  stderr(): string;
  /** Resolves with the first log line matching, or rejects after `timeoutMs`. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Send a signal and wait for exit (SIGKILL after `timeoutMs`). */
  stop(
    signal?: NodeJS.Signals,
    timeoutMs?: number,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Every child still running. A test file's worker process exits when the
 * file is done; whatever a failed or timed-out test left running goes with
 * it, instead of living on as an orphan that holds ports and CPU (and slows
 * every later test on the machine).
 */
const running = new Set<ChildProcess>();
let reaperInstalled = false;

function track(proc: ChildProcess): void {
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  if (reaperInstalled) return;
  reaperInstalled = true;
  process.once('exit', () => {
    for (const p of running) p.kill('SIGKILL');
  });
}

/** How to run the command line (e.g. wrapped in `unshare` or `ip netns exec`). */
export type CommandWrapper = (argv: readonly string[]) => readonly string[];

/** Start `headway ARGS...` as a child process, collecting its JSON log lines. */
export function spawnHeadway(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  wrap: CommandWrapper = (argv) => argv,
): HeadwayProcess {
  const argv = wrap([process.execPath, MAIN, ...args]);
  const proc = spawn(argv[0] ?? process.execPath, argv.slice(1), {
    env: { ...cleanEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(proc);
  const logs: LogLine[] = [];
  let stderr = '';
  let pending = '';
  const waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      let parsed: LogLine;
      try {
        parsed = JSON.parse(line) as LogLine;
      } catch {
        parsed = { msg: line, raw: true };
      }
      logs.push(parsed);
      for (let i = waiters.length - 1; i >= 0; i--) {
        const w = waiters[i];
        if (w !== undefined && w.match(parsed)) {
          waiters.splice(i, 1);
          w.resolve(parsed);
        }
      }
    }
  });
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk: string) => (stderr += chunk));
  const exited = once(proc, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  const handle: HeadwayProcess = {
    proc,
    pid: proc.pid ?? -1,
    logs,
    stderr: () => stderr,
    exited,
    waitForLog(match, timeoutMs = 15_000) {
      const found = logs.find(match);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(
            new Error(
              `timed out waiting for log line; stderr: ${stderr}; logs: ${JSON.stringify(logs)}`,
            ),
          );
        }, timeoutMs);
        const entry = {
          match,
          resolve: (l: LogLine) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        waiters.push(entry);
        void exited.then(() => {
          const i = waiters.indexOf(entry);
          if (i >= 0) {
            waiters.splice(i, 1);
            clearTimeout(timer);
            reject(new Error(`headway exited before the log line; stderr: ${stderr}`));
          }
        });
      });
    },
    async stop(signal = 'SIGTERM', timeoutMs = 20_000) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
  return handle;
}

/** The environment minus anything HEADWAY_* from the developer's shell. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HEADWAY_')) env[k] = v;
  return env;
}

export interface RunningProxy extends HeadwayProcess {
  /** The first bound proxy address. */
  readonly port: number;
  readonly host: string;
  /** `http://host:port` of the admin endpoint, when enabled. */
  readonly adminUrl: string;
}

/**
 * `HEADWAY_TEST_SOCKET_IMPL=net` (`npm run test:net`): every proxy started
 * here runs with `--socket-impl net` unless a test chooses itself, so that
 * the data-path suites check the net.Socket fallback as they check the
 * default. Read here, not passed down: the child's environment has no
 * HEADWAY_* variable from outside (cleanEnv).
 */
const TEST_SOCKET_IMPL = process.env.HEADWAY_TEST_SOCKET_IMPL;

/** Start-up normally takes well under a second; this only bounds a machine that is badly overloaded. */
const START_TIMEOUT_MS = 30_000;

/**
 * Start a proxy on an ephemeral loopback port (and an ephemeral admin port),
 * resolving once both are listening.
 */
export async function startProxy(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  wrap?: CommandWrapper,
): Promise<RunningProxy> {
  const hasListen = args.includes('--listen');
  const hasAdmin = args.includes('--admin');
  const full = [
    // Health probes would be extra connections to the tests' backends: opt in per test.
    ...(args.includes('--health-check') ? [] : ['--health-check', 'none']),
    ...(hasListen ? [] : ['--listen', '127.0.0.1:0']),
    ...(hasAdmin ? [] : ['--admin', '127.0.0.1:0']),
    '--log-level',
    'debug',
    ...(TEST_SOCKET_IMPL === undefined || args.includes('--socket-impl')
      ? []
      : ['--socket-impl', TEST_SOCKET_IMPL]),
    ...args,
  ];
  const p = spawnHeadway(full, env, wrap);
  let started: LogLine;
  let admin: LogLine | undefined;
  try {
    started = await p.waitForLog((l) => l.msg === 'listener started', START_TIMEOUT_MS);
    const adminOff = args[args.indexOf('--admin') + 1] === 'off';
    admin = adminOff
      ? undefined
      : await p.waitForLog((l) => l.msg === 'admin listening', START_TIMEOUT_MS);
  } catch (err) {
    // The test gets no handle to stop it with: stop it here.
    p.proc.kill('SIGKILL');
    throw err;
  }
  const first = (started.addresses as string[])[0] ?? '';
  const i = first.lastIndexOf(':');
  return {
    ...p,
    host: first.slice(0, i).replace(/^\[|\]$/g, ''),
    port: Number(first.slice(i + 1)),
    adminUrl: admin === undefined ? '' : `http://${String(admin.address)}`,
  };
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run the CLI to completion (for bad-input tests); killed after `timeoutMs`. */
export async function runHeadway(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 20_000,
): Promise<CliResult> {
  const proc = spawn(process.execPath, [MAIN, ...args], {
    env: { ...cleanEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  proc.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(proc, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}
