/**
 * `node bench/workers.ts [--dist DIR] [--runs N] [--seconds S] [--out FILE]`:
 * what `--workers N` costs and buys on this machine. Headway as one thread,
 * with `--workers 1` and with `--workers 2` (latency tracking, metrics and an
 * access log on, as deployed), measured with `headway bench rr` (50
 * connections) and `headway bench connect` (50 at once) against `headway
 * echo`, in two placements: the proxy on one core (CPU 1, load and backend on
 * CPU 0: CPU per operation, the worker handoff's cost) and everything on both
 * cores (what the threads can add when the load generator competes for the
 * same two cores: load-bound here, so the scaling it shows is a floor).
 * Runs are interleaved (one thread, 1 worker, 2 workers, one thread, ...);
 * figures are medians. Writes a markdown section (stdout, or FILE) that
 * bench/compare appends to bench/RESULTS.md. Loopback only; every run is
 * bounded by --seconds and a 60 s timeout.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};
const RUNS = Number(flag('--runs') ?? 3);
const SECONDS = Number(flag('--seconds') ?? 2);
const OUT = flag('--out');
const work = mkdtempSync(join(tmpdir(), 'headway-workers-bench-'));
let dist = flag('--dist');
if (dist === undefined) {
  dist = join(work, 'dist');
  execFileSync('npm', ['run', '-s', 'build', '--', '--outDir', dist], { stdio: 'ignore' });
}
const MAIN = join(dist, 'cli', 'main.js');
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
const ECHO_PORT = 25_000;

interface Variant {
  readonly name: string;
  readonly port: number;
  readonly flags: readonly string[];
}
const VARIANTS: readonly Variant[] = [
  { name: 'one thread', port: 25_001, flags: [] },
  { name: '--workers 1', port: 25_002, flags: ['--workers', '1'] },
  { name: '--workers 2', port: 25_003, flags: ['--workers', '2'] },
];
interface Placement {
  readonly name: string;
  readonly proxyCpus: string;
  readonly loadCpus: string;
}
const PLACEMENTS: readonly Placement[] = [
  { name: 'proxy on 1 core (CPU 1), load on CPU 0', proxyCpus: '1', loadCpus: '0' },
  {
    name: 'all on 2 cores (proxy, load and backend share CPUs 0–1)',
    proxyCpus: '0-1',
    loadCpus: '0-1',
  },
];
const TESTS = [
  { name: 'bench rr 64 B, 50 connections', mode: 'rr', unit: 'exchange' },
  { name: 'bench connect, 50 at once', mode: 'connect', unit: 'connection' },
] as const;

const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

function startProcess(cpus: string, argv: readonly string[]): ChildProcess {
  const child = spawn('taskset', ['-c', cpus, process.execPath, ...argv], { stdio: 'ignore' });
  children.push(child);
  return child;
}

async function waitPort(port: number): Promise<void> {
  const deadline = Date.now() + 20_000;
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
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

interface Sample {
  readonly opsPerSec: number;
  readonly cpuUsPerOp: number;
  readonly coresBusy: number;
}

function measure(proxy: ChildProcess, port: number, mode: string, loadCpus: string): Sample {
  const json = join(work, `run-${port}-${mode}.json`);
  const c0 = cpuSeconds(proxy.pid as number);
  const t0 = performance.now();
  execFileSync(
    'taskset',
    [
      '-c',
      loadCpus,
      process.execPath,
      MAIN,
      'bench',
      mode,
      '--target',
      `127.0.0.1:${port}`,
      '--connections',
      '50',
      '--duration',
      `${SECONDS}s`,
      '--warmup',
      '0',
      '--json',
      json,
    ],
    { stdio: 'ignore', timeout: 60_000 },
  );
  const wall = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(proxy.pid as number) - c0;
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

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};
const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

const results = new Map<string, Sample[]>();
const key = (p: Placement, t: string, v: Variant): string => `${p.name}|${t}|${v.name}`;

const echo = startProcess('0', [MAIN, 'echo', '--listen', `127.0.0.1:${ECHO_PORT}`]);
await waitPort(ECHO_PORT);
for (const placement of PLACEMENTS) {
  const proxies = VARIANTS.map((v) =>
    startProcess(placement.proxyCpus, [
      MAIN,
      '--listen',
      `127.0.0.1:${v.port}`,
      '--backends',
      `static://127.0.0.1:${ECHO_PORT}`,
      '--admin',
      'off',
      '--log-level',
      'warn',
      '--drain-timeout',
      '1s',
      '--access-log',
      join(work, `access-${v.port}.log`),
      ...v.flags,
    ]),
  );
  for (const v of VARIANTS) await waitPort(v.port);
  // Warm up (JIT, pools) before anything counts.
  for (const [i, v] of VARIANTS.entries())
    for (const t of TESTS) measure(proxies[i] as ChildProcess, v.port, t.mode, placement.loadCpus);
  for (let run = 0; run < RUNS; run++) {
    for (const t of TESTS) {
      for (const [i, v] of VARIANTS.entries()) {
        const s = measure(proxies[i] as ChildProcess, v.port, t.mode, placement.loadCpus);
        const k = key(placement, t.name, v);
        results.set(k, [...(results.get(k) ?? []), s]);
      }
    }
  }
  for (const p of proxies) p.kill('SIGKILL');
}
echo.kill('SIGKILL');

const lines: string[] = [
  '## Worker threads (`--workers`)',
  '',
  `Measured by \`node bench/workers.ts\` (${RUNS} interleaved runs of ${SECONDS} s, medians; ${new Date().toISOString()}). ` +
    'Headway with tracking, metrics and an access log on, against `headway echo`. "CPU per op" is the whole ' +
    'process (every thread) divided by the operations; "cores busy" is that CPU over the wall time. ' +
    'On one core the workers can only add cost (a thread hop is not free); on two cores shared with the load ' +
    'generator and backend the load side sets the pace, so the scaling seen is a floor, not what more cores would give.',
  '',
];
for (const placement of PLACEMENTS) {
  lines.push(`**${placement.name}**`, '');
  lines.push(
    '| test | variant | ops/s | CPU µs per op | cores busy | ops/s vs one thread | CPU/op vs one thread |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const t of TESTS) {
    const base = results.get(key(placement, t.name, VARIANTS[0] as Variant)) ?? [];
    const baseOps = median(base.map((s) => s.opsPerSec));
    const baseCpu = median(base.map((s) => s.cpuUsPerOp));
    for (const v of VARIANTS) {
      const ss = results.get(key(placement, t.name, v)) ?? [];
      const ops = median(ss.map((s) => s.opsPerSec));
      const cpu = median(ss.map((s) => s.cpuUsPerOp));
      const busy = median(ss.map((s) => s.coresBusy));
      lines.push(
        `| ${t.name} | ${v.name} | ${fmt(ops)} | ${fmt(cpu, 1)} | ${fmt(busy, 2)} | ${fmt(ops / baseOps, 2)}× | ${fmt(cpu / baseCpu, 2)}× |`,
      );
    }
  }
  lines.push('');
}
lines.push(`Reproduce: \`node bench/workers.ts --runs ${RUNS} --seconds ${SECONDS}\``, '');
const text = lines.join('\n');
if (OUT === undefined) process.stdout.write(text);
else writeFileSync(OUT, text);
