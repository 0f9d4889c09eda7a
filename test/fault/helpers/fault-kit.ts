/**
 * Shared pieces of the fault tests: the proxy and its echo backends run as
 * child processes from a compiled copy of `src/` (so memory figures do not
 * include the TypeScript stripper), and are measured through /proc.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { get } from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  spawnHeadway,
  startProxy,
  type HeadwayProcess,
  type RunningProxy,
} from '../../helpers/headway-process.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** Inside the repository (gitignored), so the compiled files find `node_modules`. */
export const DIST_DIR = `${ROOT}test-results/fault-dist`;
export const DIST_MAIN = `${DIST_DIR}/cli/main.js`;
const LOAD_CHILD = fileURLToPath(new URL('./load-child.ts', import.meta.url));

/** Whether the fault suite was asked for (vitest.config.ts's fault project sets it). */
export const FAULT_TESTS = process.env.FAULT_TESTS === '1';

/**
 * Compile `src/` into DIST_DIR. tsc emits even when another file has a type
 * error (someone may be editing in parallel); only a missing output fails.
 */
export function buildDist(): void {
  const tsc = `${ROOT}node_modules/typescript/bin/tsc`;
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', DIST_DIR], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (!existsSync(DIST_MAIN)) {
    throw new Error(`tsc produced no ${DIST_MAIN}: ${r.stdout} ${r.stderr}`);
  }
  if (r.status !== 0) {
    console.warn(`[fault] tsc reported errors (output used anyway):\n${r.stdout}`);
  }
}

function ensureDist(): void {
  if (!existsSync(DIST_MAIN)) buildDist();
}

/** Run `node [nodeFlags] dist/cli/main.js ARGS` instead of `node src/cli/main.ts ARGS`. */
function distWrap(nodeFlags: readonly string[]) {
  return (argv: readonly string[]): readonly string[] => [
    argv[0] ?? process.execPath,
    ...nodeFlags,
    DIST_MAIN,
    ...argv.slice(2),
  ];
}

export interface FaultProxy extends RunningProxy {
  /** The inspector's WebSocket URL when started with `inspect`. */
  readonly inspectorUrl: string | undefined;
}

/**
 * The proxy from the compiled copy, on an ephemeral loopback port, admin on
 * another (see `startProxy`: `--health-check none` unless given). With
 * `inspect`, the inspector listens on an ephemeral loopback port so a test
 * can force a full GC (`forceGc`).
 */
export async function startFaultProxy(
  args: readonly string[],
  opts: { inspect?: boolean } = {},
): Promise<FaultProxy> {
  ensureDist();
  const flags = opts.inspect === true ? ['--inspect=127.0.0.1:0'] : [];
  const proxy = await startProxy(args, {}, distWrap(flags));
  let inspectorUrl: string | undefined;
  if (opts.inspect === true) {
    const deadline = Date.now() + 10_000;
    while (inspectorUrl === undefined && Date.now() < deadline) {
      inspectorUrl = /ws:\/\/\S+/.exec(proxy.stderr())?.[0];
      if (inspectorUrl === undefined) await sleep(20);
    }
    if (inspectorUrl === undefined) throw new Error(`no inspector URL: ${proxy.stderr()}`);
  }
  return { ...proxy, inspectorUrl };
}

export interface EchoChild {
  readonly proc: HeadwayProcess;
  readonly pid: number;
  readonly port: number;
  readonly address: string;
  /** SIGKILL; resolves with when the signal was sent and when the exit was seen. */
  kill9(): Promise<{ sentAt: number; deadAt: number }>;
  stop(): Promise<void>;
}

/** `headway echo` as a child process (so killing it is real); `port` 0 = ephemeral. */
export async function startEchoChild(
  opts: { port?: number; delay?: string } = {},
): Promise<EchoChild> {
  ensureDist();
  const args = ['echo', '--listen', `127.0.0.1:${opts.port ?? 0}`];
  if (opts.delay !== undefined) args.push('--delay', opts.delay);
  const proc = spawnHeadway(args, {}, distWrap([]));
  const line = await proc.waitForLog((l) => l.msg === 'echo listening');
  const address = String(line.address);
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  return {
    proc,
    pid: proc.pid,
    port,
    address,
    async kill9() {
      const sentAt = performance.now();
      proc.proc.kill('SIGKILL');
      await proc.exited;
      return { sentAt, deadAt: performance.now() };
    },
    async stop() {
      await proc.stop('SIGKILL', 5000);
    },
  };
}

/** Open file descriptors of a process, from /proc/PID/fd. */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Resident set size in KiB, from /proc/PID/status (VmRSS). */
export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

/** Poll until the process has `target` fds (or `timeoutMs` passes); returns the last count. */
export async function settleFds(pid: number, target: number, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let n = fdCount(pid);
  while (n !== target && Date.now() < deadline) {
    await sleep(50);
    n = fdCount(pid);
  }
  return n;
}

/** Poll until the fd count stops changing for `quietMs` (bounded); returns it. */
export async function stableFds(pid: number, quietMs = 300, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let n = fdCount(pid);
  let since = Date.now();
  while (Date.now() < deadline) {
    await sleep(50);
    const m = fdCount(pid);
    if (m !== n) {
      n = m;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      break;
    }
  }
  return n;
}

/**
 * GET on the admin endpoint over a fresh connection closed afterwards
 * (no keep-alive pool holding a descriptor in the proxy between samples).
 */
export function adminGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        if (res.statusCode === 200) resolve(body);
        else reject(new Error(`${url}: HTTP ${res.statusCode ?? '?'}`));
      });
      res.on('error', reject);
    });
    req.setTimeout(5000, () => req.destroy(new Error(`${url}: timeout`)));
    req.on('error', reject);
  });
}

/** The admin endpoint's HTTP status for `url` (-1 when it cannot be reached). */
export function adminStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = get(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? -1));
      res.on('error', () => resolve(-1));
    });
    req.setTimeout(5000, () => req.destroy());
    req.on('error', () => resolve(-1));
  });
}

export interface BackendEntry {
  readonly id: string;
  readonly address: string;
  readonly state: string;
  readonly active: number;
  readonly total: number;
  readonly failures: number;
  readonly health?: { readonly healthy: boolean; readonly lastResult?: string };
  readonly ejectedUntil?: string;
}

export async function backendsOf(adminUrl: string): Promise<BackendEntry[]> {
  const report = JSON.parse(await adminGet(`${adminUrl}/backends`)) as {
    listeners: { backends: BackendEntry[] }[];
  };
  return report.listeners[0]?.backends ?? [];
}

export function metricsOf(adminUrl: string): Promise<string> {
  return adminGet(`${adminUrl}/metrics`);
}

/** `headway_connections_total` by outcome (all backends), zero-valued outcomes left out. */
export function outcomes(metrics: string, backend?: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of metrics.split('\n')) {
    const m = /^headway_connections_total\{(.*)\} (\S+)$/.exec(line);
    if (m === null) continue;
    const labels = m[1] ?? '';
    if (backend !== undefined && !labels.includes(`backend="${backend}"`)) continue;
    const outcome = /outcome="([^"]*)"/.exec(labels)?.[1] ?? '?';
    const v = Number(m[2]);
    if (v > 0) out[outcome] = (out[outcome] ?? 0) + v;
  }
  return out;
}

export interface MemoryUsage {
  readonly rss: number;
  readonly heapTotal: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
  /**
   * heapUsed without V8's compiled code and bytecode (its code and trusted
   * spaces), which tier up and are flushed on V8's own schedule: over three
   * identical batches of 100,000 connections the code in heap snapshots
   * moved by up to 1 MiB while the objects moved by under 40 KiB.
   */
  readonly dataHeapUsed: number;
}

/**
 * Force a full, compacting GC in the proxy through its inspector
 * (HeapProfiler.collectGarbage) and return `process.memoryUsage()` taken
 * right after. The session is closed again before returning.
 */
export async function forceGc(inspectorUrl: string): Promise<MemoryUsage> {
  const ws = new WebSocket(inspectorUrl);
  const pending = new Map<number, (v: unknown) => void>();
  let nextId = 0;
  ws.addEventListener('message', (e: MessageEvent) => {
    const msg = JSON.parse(String(e.data)) as { id?: number; result?: unknown };
    if (msg.id !== undefined) pending.get(msg.id)?.(msg.result);
  });
  const timer = setTimeout(() => ws.close(), 30_000);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener('open', () => resolve());
      ws.addEventListener('error', () => reject(new Error('inspector connection failed')));
    });
    const call = (method: string, params: object = {}): Promise<unknown> =>
      new Promise((resolve, reject) => {
        const id = ++nextId;
        pending.set(id, resolve);
        ws.addEventListener('close', () => reject(new Error('inspector closed')));
        ws.send(JSON.stringify({ id, method, params }));
      });
    await call('HeapProfiler.collectGarbage');
    // A second pass collects what the first one's finalizers released.
    await call('HeapProfiler.collectGarbage');
    const r = (await call('Runtime.evaluate', {
      expression: `JSON.stringify({
        ...process.memoryUsage(),
        dataHeapUsed: process
          .getBuiltinModule('node:v8')
          .getHeapSpaceStatistics()
          .filter((s) => !/code|trusted/.test(s.space_name))
          .reduce((sum, s) => sum + s.space_used_size, 0),
      })`,
      returnByValue: true,
    })) as { result: { value: string } };
    return JSON.parse(r.result.value) as MemoryUsage;
  } finally {
    clearTimeout(timer);
    ws.close();
  }
}

/** A load client in its own process (see load-child.ts); results are its JSON lines. */
export class LoadChild {
  readonly proc: ChildProcess;
  readonly #lines: Record<string, unknown>[] = [];
  readonly #waiters: (() => void)[] = [];
  #stderr = '';
  readonly exited: Promise<unknown>;

  constructor(mode: 'churn' | 'hold', port: number, count: number, concurrency: number) {
    this.proc = spawn(
      process.execPath,
      [LOAD_CHILD, mode, '127.0.0.1', String(port), String(count), String(concurrency)],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.exited = once(this.proc, 'exit');
    const rl = createInterface({ input: this.proc.stdout as NodeJS.ReadableStream });
    rl.on('line', (line) => {
      this.#lines.push(JSON.parse(line) as Record<string, unknown>);
      for (const w of this.#waiters.splice(0)) w();
    });
    this.proc.stderr?.setEncoding('utf8');
    this.proc.stderr?.on('data', (c: string) => (this.#stderr += c));
    void this.exited.then(() => {
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  /** The next JSON line (bounded by `timeoutMs`). */
  async next<T>(timeoutMs = 170_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (this.#lines.length === 0) {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null)
        throw new Error(`load child exited without a result: ${this.#stderr}`);
      if (Date.now() > deadline) throw new Error('load child: no result in time');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1000);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.#lines.shift() as T;
  }

  send(command: string): void {
    this.proc.stdin?.write(`${command}\n`);
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGKILL');
      await this.exited;
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export const MiB = 1024 * 1024;

function show(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined) return 'undefined';
  return JSON.stringify(v);
}

/** One compact line of figures for the report: `[fault] name: k=v k=v ...`. */
export function report(name: string, figures: Record<string, unknown>): void {
  const parts = Object.entries(figures).map(([k, v]) => `${k}=${show(v)}`);
  console.log(`[fault] ${name}: ${parts.join(' ')}`);
}
