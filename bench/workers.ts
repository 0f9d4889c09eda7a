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
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type BenchRun,
  type Sample,
  distDir,
  flagValue,
  fmt,
  measureBench,
  median,
  startPinned,
  waitPort,
} from './lib/measure.ts';

const args = process.argv.slice(2);
const RUNS = Number(flagValue(args, '--runs') ?? 3);
const SECONDS = Number(flagValue(args, '--seconds') ?? 2);
const OUT = flagValue(args, '--out');
const work = mkdtempSync(join(tmpdir(), 'headway-workers-bench-'));
const MAIN = join(distDir(args, work), 'cli', 'main.js');
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
  { name: 'bench rr 64 B, 50 connections', mode: 'rr' },
  { name: 'bench connect, 50 at once', mode: 'connect' },
] as const;

const results = new Map<string, Sample[]>();
const key = (p: Placement, t: string, v: Variant): string => `${p.name}|${t}|${v.name}`;

const echo = startPinned('0', [MAIN, 'echo', '--listen', `127.0.0.1:${ECHO_PORT}`]);
await waitPort(ECHO_PORT);
for (const placement of PLACEMENTS) {
  const proxies = VARIANTS.map((v) =>
    startPinned(placement.proxyCpus, [
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
  const run: BenchRun = {
    main: MAIN,
    workDir: work,
    loadCpus: placement.loadCpus,
    seconds: SECONDS,
  };
  for (const [i, v] of VARIANTS.entries())
    for (const t of TESTS) measureBench(run, proxies[i] as ChildProcess, v.port, t.mode);
  for (let r = 0; r < RUNS; r++) {
    for (const t of TESTS) {
      for (const [i, v] of VARIANTS.entries()) {
        const s = measureBench(run, proxies[i] as ChildProcess, v.port, t.mode);
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
lines.push(
  `Reproduce: \`npx node bench/workers.ts --runs ${RUNS} --seconds ${SECONDS}\`, or \`bench/compare --only workers\``,
  '',
);
const text = lines.join('\n');
if (OUT === undefined) process.stdout.write(text);
else writeFileSync(OUT, text);
