/**
 * `node bench/yardstick.ts [--dist DIR] [--runs N] [--seconds S] [--idle N] [--out FILE] [--json FILE]`:
 * Headway against the smallest relay Node can run (bench/raw-relay.ts: raw
 * libuv handles, no net.Socket, no features), on this machine, the proxy on
 * CPU 1 and the load on CPU 0: CPU per 64-byte exchange (50 connections),
 * CPU per connection (`headway bench connect`, 50 at once) and RSS per idle
 * proxied connection (N held, fresh process each run). What the raw relay
 * reaches and Headway does not is what net.Socket and Headway's features
 * cost; what neither reaches is Node's floor. Writes a markdown section
 * (stdout, or FILE) that bench/compare appends to bench/RESULTS.md, and with
 * `--json FILE` every run's figures (headway-yardstick/v1), from which
 * bench/render-results.ts judges issue #19's "× the raw relay" target.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
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
  rssKib,
  startPinned,
  waitPort,
} from './lib/measure.ts';
import { YARDSTICK_SCHEMA, type YardstickReport, type YardstickVariantId } from './render/model.ts';

const args = process.argv.slice(2);
const RUNS = Number(flagValue(args, '--runs') ?? 3);
const SECONDS = Number(flagValue(args, '--seconds') ?? 2);
const IDLE = Number(flagValue(args, '--idle') ?? 8000);
const OUT = flagValue(args, '--out');
const JSON_OUT = flagValue(args, '--json');
const work = mkdtempSync(join(tmpdir(), 'headway-yardstick-'));
const MAIN = join(distDir(args, work), 'cli', 'main.js');
const HERE = import.meta.dirname;
const ECHO_PORT = 26_000;

interface Variant {
  readonly id: YardstickVariantId;
  readonly name: string;
  readonly port: number;
  argv(port: number): string[];
}
const headway =
  (extra: readonly string[]) =>
  (port: number): string[] => [
    MAIN,
    '--listen',
    `127.0.0.1:${port}`,
    '--backends',
    `static://127.0.0.1:${ECHO_PORT}`,
    '--admin',
    'off',
    '--log-level',
    'warn',
    ...extra,
  ];
const VARIANTS: readonly Variant[] = [
  {
    id: 'headway',
    name: 'Headway (tracking, metrics, access log on)',
    port: 26_001,
    argv: headway(['--access-log', join(work, 'access.log')]),
  },
  {
    id: 'headway-features-off',
    name: 'Headway, tracking and access log off, no health checks',
    port: 26_002,
    argv: headway(['--latency-tracking', 'off', '--health-check', 'none']),
  },
  {
    id: 'raw-relay',
    name: 'raw libuv relay (bench/raw-relay.ts)',
    port: 26_003,
    argv: (port) => [join(HERE, 'raw-relay.ts'), String(port), String(ECHO_PORT)],
  },
];

async function idleKibPerConnection(v: Variant): Promise<number> {
  const proxy = startPinned('1', v.argv(v.port));
  await waitPort(v.port);
  await new Promise((r) => setTimeout(r, 500));
  const before = rssKib(proxy.pid as number);
  const holder = spawn(
    'taskset',
    [
      '-c',
      '0',
      process.execPath,
      join(HERE, 'hold-connections.ts'),
      '127.0.0.1',
      String(v.port),
      String(IDLE),
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const [line] = (await once(holder.stdout, 'data')) as [Buffer];
  const opened = (JSON.parse(line.toString()) as { opened: number }).opened;
  await new Promise((r) => setTimeout(r, 2000));
  const after = rssKib(proxy.pid as number);
  holder.kill('SIGTERM');
  proxy.kill('SIGKILL');
  await once(proxy, 'exit');
  await new Promise((r) => setTimeout(r, 1000));
  return (after - before) / opened;
}

const echo = startPinned('0', [MAIN, 'echo', '--listen', `127.0.0.1:${ECHO_PORT}`]);
await waitPort(ECHO_PORT);
const run: BenchRun = { main: MAIN, workDir: work, loadCpus: '0', seconds: SECONDS };
const samples = new Map<string, Sample[]>();
const idle = new Map<string, number[]>();
const proxies = VARIANTS.map((v) => startPinned('1', v.argv(v.port)));
for (const v of VARIANTS) await waitPort(v.port);
for (const [i, v] of VARIANTS.entries()) {
  measureBench(run, proxies[i] as ChildProcess, v.port, 'rr');
  measureBench(run, proxies[i] as ChildProcess, v.port, 'connect');
}
for (let r = 0; r < RUNS; r++) {
  for (const mode of ['rr', 'connect'] as const) {
    for (const [i, v] of VARIANTS.entries()) {
      const k = `${v.name}|${mode}`;
      samples.set(k, [
        ...(samples.get(k) ?? []),
        measureBench(run, proxies[i] as ChildProcess, v.port, mode),
      ]);
    }
  }
}
for (const p of proxies) p.kill('SIGKILL');
await new Promise((r) => setTimeout(r, 1000));
for (let r = 0; r < RUNS; r++) {
  for (const v of VARIANTS)
    idle.set(v.name, [...(idle.get(v.name) ?? []), await idleKibPerConnection(v)]);
}
echo.kill('SIGKILL');

const cpu = (v: Variant, mode: string): number =>
  median((samples.get(`${v.name}|${mode}`) ?? []).map((s) => s.cpuUsPerOp));
const raw = VARIANTS[2] as Variant;
const measuredAt = new Date().toISOString();
const lines = [
  '## Yardstick: a relay on raw libuv handles',
  '',
  `Measured by \`bench/yardstick.ts\` (${RUNS} interleaved runs of ${SECONDS} s, medians; ${IDLE} idle connections for memory, a fresh process each run; ${measuredAt}). ` +
    'The proxy on CPU 1, load and `headway echo` on CPU 0. bench/raw-relay.ts accepts, connects and copies bytes on ' +
    'libuv handles directly, with none of net.Socket, streams or Headway’s features: what it reaches and Headway does not ' +
    'is the price of net.Socket and of the features; what neither reaches is the floor of a Node.js relay on this machine.',
  '',
  '| variant | CPU µs per 64 B exchange (rr, 50 conn.) | CPU µs per connection (connect, 50 at once) | RSS KiB per idle proxied connection |',
  '| --- | --- | --- | --- |',
  ...VARIANTS.map(
    (v) =>
      `| ${v.name} | ${fmt(cpu(v, 'rr'), 1)} (${fmt(cpu(v, 'rr') / cpu(raw, 'rr'), 2)}× raw) | ` +
      `${fmt(cpu(v, 'connect'), 1)} (${fmt(cpu(v, 'connect') / cpu(raw, 'connect'), 2)}× raw) | ` +
      `${fmt(median(idle.get(v.name) ?? []), 2)} |`,
  ),
  '',
  `Reproduce: \`npx node bench/yardstick.ts --runs ${RUNS} --seconds ${SECONDS} --idle ${IDLE}\`, or \`bench/compare --only yardstick\``,
  '',
];
const text = lines.join('\n');
if (OUT === undefined) process.stdout.write(text);
else writeFileSync(OUT, text);
if (JSON_OUT !== undefined) {
  // Per run, in run order, so that a reader can pair the variants run by run.
  const perRun = (v: Variant, mode: 'rr' | 'connect'): number[] =>
    (samples.get(`${v.name}|${mode}`) ?? []).map((s) => s.cpuUsPerOp);
  const report: YardstickReport = {
    schema: YARDSTICK_SCHEMA,
    date: measuredAt,
    runs: RUNS,
    seconds: SECONDS,
    idle: IDLE,
    variants: VARIANTS.map((v) => ({
      id: v.id,
      name: v.name,
      rrCpuUs: perRun(v, 'rr'),
      connectCpuUs: perRun(v, 'connect'),
      idleKibPerConnection: idle.get(v.name) ?? [],
    })),
  };
  writeFileSync(JSON_OUT, `${JSON.stringify(report, null, 2)}\n`);
}
