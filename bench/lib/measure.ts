/**
 * Helpers shared by bench/workers.ts and bench/yardstick.ts: start pinned
 * processes (killed when the script exits), wait for a port, read a
 * process's CPU time, run `headway bench` against a target and take medians.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** `node ARGV...` pinned to `cpus` (taskset list), output discarded. */
export function startPinned(cpus: string, argv: readonly string[]): ChildProcess {
  const child = spawn('taskset', ['-c', cpus, process.execPath, ...argv], { stdio: 'ignore' });
  children.push(child);
  return child;
}

export async function waitPort(port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${port} never opened`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** utime + stime of a process, all its threads, in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** Resident set size of a process, KiB. */
export function rssKib(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? Number.NaN);
}

export interface Sample {
  readonly opsPerSec: number;
  readonly cpuUsPerOp: number;
  /** The proxy's CPU over the wall time, in cores. */
  readonly coresBusy: number;
}

export interface BenchRun {
  /** Compiled Headway (`dist/cli/main.js`) whose `bench` command drives the load. */
  readonly main: string;
  /** Where the JSON reports go. */
  readonly workDir: string;
  readonly loadCpus: string;
  readonly seconds: number;
}

/** `headway bench MODE` (50 connections) against `port`, with `proxy`'s CPU read around it. */
export function measureBench(
  run: BenchRun,
  proxy: ChildProcess,
  port: number,
  mode: 'rr' | 'connect',
): Sample {
  const json = join(run.workDir, `run-${port}-${mode}.json`);
  const pid = proxy.pid as number;
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  execFileSync(
    'taskset',
    [
      '-c',
      run.loadCpus,
      process.execPath,
      run.main,
      'bench',
      mode,
      '--target',
      `127.0.0.1:${port}`,
      '--connections',
      '50',
      '--duration',
      `${run.seconds}s`,
      '--warmup',
      '0',
      '--json',
      json,
    ],
    { stdio: 'ignore', timeout: 60_000 },
  );
  const wall = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(pid) - c0;
  const doc = JSON.parse(readFileSync(json, 'utf8')) as {
    targets: { operations: number; throughput: { operationsPerSec: number } }[];
  };
  const t = doc.targets[0];
  if (t === undefined || t.operations <= 0) throw new Error(`${mode} on ${port}: no operations`);
  return {
    opsPerSec: t.throughput.operationsPerSec,
    cpuUsPerOp: (cpu * 1e6) / t.operations,
    coresBusy: cpu / wall,
  };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** Parse `--name value` flags. */
export function flagValue(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
}

/** The compiled Headway to measure: `--dist DIR`, else built into `workDir` now. */
export function distDir(args: readonly string[], workDir: string): string {
  const given = flagValue(args, '--dist');
  if (given !== undefined) return given;
  const dist = join(workDir, 'dist');
  execFileSync('npm', ['run', '-s', 'build', '--', '--outDir', dist], { stdio: 'ignore' });
  return dist;
}
